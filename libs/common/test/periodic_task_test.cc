#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "sb/common/periodic_task.h"

TEST_CASE("a periodic task ticks until stopped, and Stop returns at once even with a long interval") {
  std::atomic<int> ticks{0};
  sb::PeriodicTask fast("fast", absl::Milliseconds(10), [&] { ++ticks; });
  fast.Start();
  for (int i = 0; i < 200 && ticks.load() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  fast.Stop();
  const int after_stop = ticks.load();
  CHECK(after_stop >= 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(ticks.load() == after_stop);  // no tick after Stop
  fast.Stop();                        // idempotent

  std::atomic<int> slow_ticks{0};
  sb::PeriodicTask slow("slow", absl::Hours(1), [&] { ++slow_ticks; });
  slow.Start();
  const auto begin = std::chrono::steady_clock::now();
  slow.Stop();
  CHECK(std::chrono::steady_clock::now() - begin < std::chrono::seconds(1));
  CHECK(slow_ticks.load() == 0);  // the first tick comes one interval after Start
}

TEST_CASE("a throwing tick is logged and the task goes on") {
  std::atomic<int> ticks{0};
  sb::PeriodicTask task("throws", absl::Milliseconds(5), [&] {
    ++ticks;
    throw std::runtime_error("boom");
  });
  task.Start();
  for (int i = 0; i < 200 && ticks.load() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  task.Stop();
  CHECK(ticks.load() >= 3);
}
