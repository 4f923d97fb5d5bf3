#include "sb/common/blocking_pool.h"

#include "sb/common/log.h"

namespace sb {

BlockingPool::BlockingPool(std::string name, size_t threads, size_t max_queue)
    : name_(std::move(name)), max_queue_(max_queue) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

BlockingPool::~BlockingPool() { Stop(); }

absl::Status BlockingPool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::UnavailableError(name_ + " pool is shutting down");
    if (queue_.size() >= max_queue_) {
      return absl::ResourceExhaustedError(name_ + " pool queue is full (" + std::to_string(max_queue_) +
                                          " waiting); try again later");
    }
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return absl::OkStatus();
}

void BlockingPool::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

size_t BlockingPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t BlockingPool::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

void BlockingPool::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      ++active_;
    }
    try {
      task();
    } catch (const std::exception& e) {
      // A task must report errors through its own callback; an escaped exception is a bug, but it
      // must not take the worker (and the process) down.
      log::Error("uncaught exception in blocking task", {{"pool", name_}, {"what", e.what()}});
    }
    std::lock_guard lock(mu_);
    --active_;
  }
}

}  // namespace sb
