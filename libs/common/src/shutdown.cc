#include "sb/common/shutdown.h"

#include <csignal>
#include <pthread.h>
#include <thread>

#include "absl/time/clock.h"
#include "sb/common/log.h"

namespace sb {

Shutdown::Shutdown() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Threads created after this inherit the mask, so only the waiter below sees the signals.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signals_installed_ = true;
  std::thread([this, set]() {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    {
      std::lock_guard lock(mu_);
      signal_ = sig;
      stop_ = true;
    }
    cv_.notify_all();
  }).detach();
}

Shutdown::~Shutdown() = default;

void Shutdown::Add(std::string name, Step step) {
  std::lock_guard lock(mu_);
  steps_.push_back({std::move(name), std::move(step)});
}

int Shutdown::WaitForSignal() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stop_; });
  return signal_;
}

bool Shutdown::stop_requested() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void Shutdown::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void Shutdown::Run(absl::Duration grace) {
  std::vector<Entry> steps;
  {
    std::lock_guard lock(mu_);
    steps = steps_;
  }
  const absl::Time deadline = absl::Now() + grace;
  log::Info("shutting down", {{"steps", static_cast<int64_t>(steps.size())},
                              {"grace_ms", absl::ToInt64Milliseconds(grace)}});
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const absl::Time started = absl::Now();
    it->step(deadline);
    const absl::Time finished = absl::Now();
    log::Info("shutdown step done", {{"step", it->name},
                                     {"took_ms", absl::ToInt64Milliseconds(finished - started)}});
    if (finished > deadline) log::Warn("shutdown step overran the grace period", {{"step", it->name}});
  }
}

}  // namespace sb
