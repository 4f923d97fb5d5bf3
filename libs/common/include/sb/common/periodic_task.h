// PeriodicTask: runs `tick` every `interval` on a thread of its own, from Start() until Stop().
// The first tick comes one interval after Start(). Stop() wakes the thread at once, lets a tick in
// progress finish, joins, and is idempotent; the destructor stops. For a service's background
// chores (expiring typing, sweeps, flushes, readiness probes): a slow tick delays the next one,
// ticks never overlap.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"

namespace sb {

class PeriodicTask {
 public:
  PeriodicTask(std::string name, absl::Duration interval, std::function<void()> tick);
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Start();
  void Stop();

 private:
  void Run();

  std::string name_;
  absl::Duration interval_;
  std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sb
