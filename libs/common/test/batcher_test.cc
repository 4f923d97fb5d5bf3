#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <mutex>
#include <vector>

#include "sb/common/batcher.h"

TEST_CASE("batcher groups what queued during a batch, in submission order per key") {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> first_started;
  std::mutex mu;
  std::vector<std::vector<int>> batches;
  sb::ShardedBatcher<int> batcher({.name = "test", .shards = 1, .max_batch = 4, .max_queued = 100},
                                  [&](std::vector<int>& batch) {
                                    if (batch.front() == 0) {
                                      first_started.set_value();
                                      gate.wait();
                                    }
                                    std::lock_guard lock(mu);
                                    batches.push_back(batch);
                                  });
  REQUIRE(batcher.Submit(0, 0).ok());
  first_started.get_future().wait();  // the shard is busy with [0]
  for (int i = 1; i <= 6; ++i) REQUIRE(batcher.Submit(7, int{i}).ok());
  release.set_value();
  batcher.Stop();
  REQUIRE(batches.size() == 3);
  CHECK(batches[0] == std::vector<int>{0});
  CHECK(batches[1] == std::vector<int>{1, 2, 3, 4});  // max_batch
  CHECK(batches[2] == std::vector<int>{5, 6});
}

TEST_CASE("batcher refuses past its queue bound and after Stop, leaving the item with the caller") {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> processed{0};
  sb::ShardedBatcher<std::string> batcher({.name = "sends", .shards = 1, .max_batch = 10, .max_queued = 2},
                                          [&](std::vector<std::string>& batch) {
                                            if (batch.front() == "block") {
                                              started.set_value();
                                              gate.wait();
                                            }
                                            processed += static_cast<int>(batch.size());
                                          });
  std::string first = "block";
  REQUIRE(batcher.Submit(1, std::move(first)).ok());
  started.get_future().wait();
  std::string a = "a", b = "b", c = "c";
  CHECK(batcher.Submit(1, std::move(a)).ok());
  CHECK(batcher.Submit(1, std::move(b)).ok());
  absl::Status full = batcher.Submit(1, std::move(c));
  CHECK(full.code() == absl::StatusCode::kUnavailable);
  CHECK(c == "c");  // not moved from
  CHECK(batcher.queued() == 2);
  release.set_value();
  batcher.Stop();  // drains what was queued
  CHECK(processed == 3);
  std::string d = "d";
  CHECK(batcher.Submit(1, std::move(d)).code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("batcher keys spread over shards, and one key stays on one shard") {
  std::mutex mu;
  std::vector<std::pair<std::thread::id, int>> seen;
  {
    sb::ShardedBatcher<int> batcher({.name = "test", .shards = 3}, [&](std::vector<int>& batch) {
      std::lock_guard lock(mu);
      for (int v : batch) seen.emplace_back(std::this_thread::get_id(), v);
    });
    for (int i = 0; i < 300; ++i) REQUIRE(batcher.Submit(static_cast<uint64_t>(i % 3), int{i}).ok());
  }  // destructor stops and drains
  REQUIRE(seen.size() == 300);
  std::map<int, std::set<std::thread::id>> threads_by_key;
  std::map<int, int> last_by_key;
  for (auto& [thread, v] : seen) {
    threads_by_key[v % 3].insert(thread);
    auto it = last_by_key.find(v % 3);
    if (it != last_by_key.end()) CHECK(v > it->second);  // submission order within a key
    last_by_key[v % 3] = v;
  }
  std::set<std::thread::id> all;
  for (auto& [key, threads] : threads_by_key) {
    CHECK(threads.size() == 1);
    all.insert(*threads.begin());
  }
  CHECK(all.size() == 3);
}
