#include "proc_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sb::loadgen {
namespace {

std::string ProcPath(pid_t pid, const char* leaf) {
  return "/proc/" + std::to_string(pid) + "/" + leaf;
}

// utime and stime from /proc/PID/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
std::optional<UserSystemSeconds> UserSystemFromStat(pid_t pid) {
  std::ifstream in(ProcPath(pid, "stat"));
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  int index = 3;  // the field after ')' is field 3 (state); utime is 14, stime 15
  for (; index <= 15 && (fields >> field); ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
  }
  if (index <= 15) return std::nullopt;
  const long ticks_per_second = sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return std::nullopt;
  return UserSystemSeconds{static_cast<double>(utime) / static_cast<double>(ticks_per_second),
                           static_cast<double>(stime) / static_cast<double>(ticks_per_second)};
}

// Sum of the first field of /proc/PID/task/*/schedstat: nanoseconds each live thread spent on a
// CPU. Threads that already exited are not counted, which is fine for servers whose threads live
// as long as the process.
std::optional<double> CpuFromSchedstat(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator tasks(ProcPath(pid, "task"), error);
  if (error) return std::nullopt;
  unsigned long long total_ns = 0;
  bool any = false;
  for (const auto& task : tasks) {
    std::ifstream in(task.path() / "schedstat");
    unsigned long long run_ns = 0;
    if (in >> run_ns) {
      total_ns += run_ns;
      any = true;
    }
  }
  if (!any) return std::nullopt;
  return static_cast<double>(total_ns) / 1e9;
}

}  // namespace

std::optional<long> ReadRssKib(pid_t pid) {
  std::ifstream in(ProcPath(pid, "status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream value(line.substr(6));
      long kib = 0;
      if (value >> kib) return kib;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<double> ReadCpuSeconds(pid_t pid) {
  if (auto precise = CpuFromSchedstat(pid)) return precise;
  auto split = UserSystemFromStat(pid);
  if (!split) return std::nullopt;
  return split->user + split->system;
}

std::optional<UserSystemSeconds> ReadUserSystemSeconds(pid_t pid) { return UserSystemFromStat(pid); }

CpuByPid ReadCpuSecondsOfTree(pid_t pid) {
  CpuByPid cpu;
  auto own = ReadCpuSeconds(pid);
  if (!own) return cpu;
  cpu[pid] = *own;
  std::error_code error;
  std::filesystem::directory_iterator processes("/proc", error);
  if (error) return cpu;
  for (const auto& entry : processes) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    // The parent pid is field 4 of /proc/PID/stat, counted from the last ')' like above.
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 1));
    std::string state;
    long parent = 0;
    if (!(fields >> state >> parent) || parent != pid) continue;
    const pid_t child = static_cast<pid_t>(std::stol(name));
    if (auto seconds = ReadCpuSeconds(child)) cpu[child] = *seconds;
  }
  return cpu;
}

double CpuBetween(const CpuByPid& before, const CpuByPid& after) {
  double total = 0;
  for (const auto& [pid, seconds] : after) {
    auto earlier = before.find(pid);
    total += seconds - (earlier == before.end() ? 0.0 : earlier->second);
  }
  return total;
}

}  // namespace sb::loadgen
