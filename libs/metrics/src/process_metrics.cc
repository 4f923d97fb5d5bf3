// Process metrics in the names the Prometheus client libraries use, read from /proc at scrape time.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sb/metrics/metrics.h"

namespace sb::metrics {
namespace {

// Fields of /proc/self/stat after the command name, which may itself contain spaces and ')'.
// Index 0 is field 3 ("state") of proc(5).
std::vector<std::string> ReadStatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  size_t close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}

double StatField(int proc5_index) {
  std::vector<std::string> fields = ReadStatFields();
  size_t i = static_cast<size_t>(proc5_index - 3);
  if (i >= fields.size()) return 0;
  try {
    return std::stod(fields[i]);
  } catch (...) {
    return 0;
  }
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double count = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory handle we just opened
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  if (registry.Has("process_cpu_seconds_total")) return;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));
  // Start time never changes: compute it once.
  const double start_time = BootTimeSeconds() + StatField(22) / ticks;

  registry.AddCallback(MetricType::kCounter, "process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", {}, {},
                       [ticks] { return (StatField(14) + StatField(15)) / ticks; })
      .Detach();
  registry.AddGaugeCallback("process_resident_memory_bytes", "Resident memory size in bytes.",
                            [page_size] { return StatField(24) * page_size; })
      .Detach();
  registry.AddGaugeCallback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                            [] { return StatField(23); })
      .Detach();
  registry.AddGaugeCallback("process_open_fds", "Number of open file descriptors.", [] { return OpenFds(); })
      .Detach();
  registry.AddGaugeCallback("process_max_fds", "Maximum number of open file descriptors.", [] {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0.0;
    return static_cast<double>(limit.rlim_cur);
  }).Detach();
  registry.AddGaugeCallback("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            [start_time] { return start_time; })
      .Detach();
}

}  // namespace sb::metrics
