#include <catch2/catch.hpp>

#include <atomic>
#include <future>

#include "sb/common/blocking_pool.h"

TEST_CASE("blocking pool runs tasks and refuses past its queue bound") {
  sb::BlockingPool pool("test", 1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  REQUIRE(pool.Submit([&] { started.set_value(); gate.wait(); ++ran; }).ok());
  started.get_future().wait();  // the worker is busy; the queue is empty
  CHECK(pool.Submit([&] { ++ran; }).ok());
  CHECK(pool.Submit([&] { ++ran; }).ok());
  absl::Status full = pool.Submit([&] { ++ran; });
  CHECK(full.code() == absl::StatusCode::kResourceExhausted);
  CHECK(pool.queued() == 2);
  release.set_value();
  pool.Stop();  // drains what was queued
  CHECK(ran == 3);
  CHECK(pool.Submit([] {}).code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("an exception in a task does not kill the worker") {
  sb::BlockingPool pool("test", 1, 10);
  std::atomic<int> ran{0};
  REQUIRE(pool.Submit([] { throw std::runtime_error("boom"); }).ok());
  REQUIRE(pool.Submit([&] { ++ran; }).ok());
  pool.Stop();
  CHECK(ran == 1);
}
