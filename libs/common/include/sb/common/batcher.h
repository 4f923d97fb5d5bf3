// ShardedBatcher: group commit for blocking writes. Items are queued on one of `shards` queues
// (chosen by a key, so items with the same key keep their submission order and are never processed
// by two threads at once); each shard has one thread that takes everything queued, up to
// `max_batch` items, and hands it to `process` in submission order. While a batch is processed,
// new items queue up and become the next batch: under load many writes share one round trip and
// one transaction; when idle a batch is a single item and nothing waits for a timer.
//
// Submit never blocks: when the shard's queue holds `max_queued` items it returns Unavailable
// (overload, retry later), after Stop() too; the item is then left with the caller. Stop() refuses
// new items, processes what is queued, and joins. `process` runs on the shard's thread and must
// complete every item it is given (e.g. call each item's completion) and must not throw.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sb/common/log.h"

namespace sb {

struct BatcherOptions {
  std::string name;          // in error messages
  int shards = 2;            // threads; >= 1
  size_t max_batch = 128;    // items per call of `process`; >= 1
  size_t max_queued = 10000; // per shard, then Submit refuses
};

template <typename T>
class ShardedBatcher {
 public:
  using Process = std::function<void(std::vector<T>& batch)>;

  ShardedBatcher(BatcherOptions options, Process process) : options_(std::move(options)), process_(std::move(process)) {
    if (options_.shards < 1) options_.shards = 1;
    if (options_.max_batch < 1) options_.max_batch = 1;
    for (int i = 0; i < options_.shards; ++i) shards_.push_back(std::make_unique<Shard>());
    for (auto& shard : shards_) shard->thread = std::thread([this, s = shard.get()] { Run(*s); });
  }
  ~ShardedBatcher() { Stop(); }
  ShardedBatcher(const ShardedBatcher&) = delete;
  ShardedBatcher& operator=(const ShardedBatcher&) = delete;

  // Queues `item` on shard key % shards. On a non-OK status `item` was not moved from.
  absl::Status Submit(uint64_t key, T&& item) {
    Shard& shard = *shards_[key % shards_.size()];
    {
      std::lock_guard lock(shard.mu);
      if (shard.stopping) return absl::UnavailableError(absl::StrCat(options_.name, ": shutting down"));
      if (shard.queue.size() >= options_.max_queued) {
        return absl::UnavailableError(absl::StrCat(options_.name, ": overloaded (", shard.queue.size(),
                                                   " writes queued); retry later"));
      }
      shard.queue.push_back(std::move(item));
    }
    shard.cv.notify_one();
    return absl::OkStatus();
  }

  // Refuses new items, processes the queued ones, joins the threads. Idempotent.
  void Stop() {
    for (auto& shard : shards_) {
      {
        std::lock_guard lock(shard->mu);
        shard->stopping = true;
      }
      shard->cv.notify_all();
    }
    for (auto& shard : shards_) {
      if (shard->thread.joinable()) shard->thread.join();
    }
  }

  size_t queued() const {
    size_t total = 0;
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mu);
      total += shard->queue.size();
    }
    return total;
  }

 private:
  struct Shard {
    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<T> queue;
    bool stopping = false;
    std::thread thread;
  };

  void Run(Shard& shard) {
    std::vector<T> batch;
    for (;;) {
      {
        std::unique_lock lock(shard.mu);
        shard.cv.wait(lock, [&] { return shard.stopping || !shard.queue.empty(); });
        if (shard.queue.empty()) return;  // stopping and drained
        const size_t n = std::min(options_.max_batch, shard.queue.size());
        batch.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(shard.queue.front()));
          shard.queue.pop_front();
        }
      }
      try {
        process_(batch);
      } catch (const std::exception& e) {
        // `process` must not throw (its items would never complete); keep the shard alive anyway.
        sb::log::Error("batch processing threw", {{"batcher", options_.name}, {"error", e.what()}});
      }
      batch.clear();
    }
  }

  BatcherOptions options_;
  Process process_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace sb
