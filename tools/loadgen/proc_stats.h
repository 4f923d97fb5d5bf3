// Reads another local process's memory and CPU use from /proc (Linux), so the load generator can
// sample the server under test exactly at its own phase boundaries.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>

namespace sb::loadgen {

// VmRSS of `pid` in KiB (resident memory, including shared pages the process touches);
// nullopt when the process or the field does not exist.
std::optional<long> ReadRssKib(pid_t pid);

// CPU time `pid` has used so far, user + system, all threads, in seconds. Uses the per-thread
// scheduler statistics (nanosecond resolution) when the kernel provides them, otherwise utime +
// stime from /proc/PID/stat (clock-tick resolution, usually 10 ms). nullopt when the process is gone.
std::optional<double> ReadCpuSeconds(pid_t pid);

struct UserSystemSeconds {
  double user = 0;
  double system = 0;
};
// utime and stime of `pid` (all threads) from /proc/PID/stat, in seconds, at clock-tick resolution:
// the split tells the server's own work (user) from the kernel's (system; on loopback that includes
// the TCP processing of what it sends). nullopt when the process is gone.
std::optional<UserSystemSeconds> ReadUserSystemSeconds(pid_t pid);

// CPU seconds (as ReadCpuSeconds) of `pid` and of each of its direct children, by pid: a
// multi-process server such as Postgres (postmaster + one backend per connection). Empty when
// `pid` is gone.
using CpuByPid = std::map<pid_t, double>;
CpuByPid ReadCpuSecondsOfTree(pid_t pid);

// CPU used between two ReadCpuSecondsOfTree samples: processes that appeared in between count from
// zero; processes that exited in between are left out (their last part is lost).
double CpuBetween(const CpuByPid& before, const CpuByPid& after);

}  // namespace sb::loadgen
