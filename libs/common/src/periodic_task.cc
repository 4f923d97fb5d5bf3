#include "sb/common/periodic_task.h"

#include "sb/common/log.h"

namespace sb {

PeriodicTask::PeriodicTask(std::string name, absl::Duration interval, std::function<void()> tick)
    : name_(std::move(name)), interval_(interval), tick_(std::move(tick)) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void PeriodicTask::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void PeriodicTask::Run() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [this] { return stopping_; })) {
    lock.unlock();
    try {
      tick_();
    } catch (const std::exception& e) {
      // A chore that throws must not take the process down; it runs again next time.
      sb::log::Error("periodic task failed", {{"task", name_}, {"error", std::string(e.what())}});
    }
    lock.lock();
  }
}

}  // namespace sb
