// A fixed set of threads with a bounded queue, for blocking work (libpqxx, hiredis) that must never
// run on a gRPC callback or Asio thread. Size it to the connection pool it feeds.
//
// Submit never blocks: when the queue is full it returns ResourceExhausted and the caller answers
// its client with that status, so overload turns into errors rather than unbounded memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace sb {

class BlockingPool {
 public:
  BlockingPool(std::string name, size_t threads, size_t max_queue);
  ~BlockingPool();  // Stop() then join
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues `task`; ResourceExhausted when the queue is full, Unavailable after Stop().
  absl::Status Submit(std::function<void()> task);

  // Refuses new tasks, finishes the queued ones, joins the threads. Idempotent.
  void Stop();

  size_t queued() const;
  size_t active() const;
  size_t threads() const { return workers_.size(); }
  const std::string& name() const { return name_; }

 private:
  void Work();

  std::string name_;
  size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t active_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace sb
