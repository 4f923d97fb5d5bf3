// Signal handling and ordered graceful shutdown.
//
// main() registers steps in start-up order (e.g. "http", "grpc", "db pool"); on SIGTERM or SIGINT
// they run in reverse order, each bounded by its own deadline, so what started last (the listeners)
// stops first and what everything depends on (pools) stops last:
//
//   sb::Shutdown shutdown;
//   shutdown.Add("db pool", [&](absl::Time deadline) { pool.Close(); });
//   shutdown.Add("grpc", [&](absl::Time deadline) { server.Drain(deadline); });
//   shutdown.WaitForSignal();      // blocks until SIGTERM/SIGINT or RequestStop()
//   shutdown.Run(absl::Seconds(20));
#pragma once

#include <functional>
#include <mutex>
#include <condition_variable>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace sb {

class Shutdown {
 public:
  using Step = std::function<void(absl::Time deadline)>;

  // Blocks SIGTERM and SIGINT in the calling thread (call before starting other threads so they
  // inherit the mask) and starts a thread that waits for them.
  Shutdown();
  ~Shutdown();
  Shutdown(const Shutdown&) = delete;
  Shutdown& operator=(const Shutdown&) = delete;

  void Add(std::string name, Step step);

  // Blocks until a signal arrives or RequestStop() is called; returns the signal number (0 if none).
  int WaitForSignal();
  bool stop_requested() const;
  void RequestStop();

  // Runs the steps in reverse order of Add. Each step gets the overall deadline (now + grace);
  // a step that overruns it is logged, and the rest still run.
  void Run(absl::Duration grace);

 private:
  struct Entry {
    std::string name;
    Step step;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int signal_ = 0;
  std::vector<Entry> steps_;
  bool signals_installed_ = false;
};

}  // namespace sb
