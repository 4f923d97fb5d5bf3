// A log-linear latency histogram in the spirit of HdrHistogram: every power of two is split into
// 64 equal sub-buckets, so any recorded value is reported with a relative error below 1/64 (1.6%)
// over the whole uint64 range, in a fixed 30 KB table.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sb::loadgen {

// Thread-safe: Record() may be called from any number of threads at once (relaxed atomics); the
// readers see a consistent view once the recording threads have stopped (or an approximate one
// while they run, which is all a progress line needs).
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 6;
  static constexpr size_t kSubBuckets = size_t{1} << kSubBucketBits;
  // Values below kSubBuckets get one exact bucket each; every power of two above gets kSubBuckets.
  static constexpr size_t kBucketCount = kSubBuckets * (64 - kSubBucketBits + 1);

  void Record(uint64_t value) {
    counts_[BucketIndex(value)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }

  // The smallest value v such that at least a fraction `quantile` (0..1] of the recorded values
  // are <= v, up to bucket precision: the inclusive upper bound of the bucket holding that rank,
  // clamped to the exact maximum. 0 when nothing was recorded.
  uint64_t Percentile(double quantile) const {
    const uint64_t total = count();
    if (total == 0) return 0;
    if (quantile <= 0) quantile = 0;
    if (quantile > 1) quantile = 1;
    // Rank of the wanted value, 1-based: ceil(quantile * total), at least 1.
    uint64_t rank = static_cast<uint64_t>(quantile * static_cast<double>(total));
    if (static_cast<double>(rank) < quantile * static_cast<double>(total)) ++rank;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen >= rank) {
        const uint64_t upper = BucketUpperBound(i);
        return upper < max() ? upper : max();
      }
    }
    return max();
  }

  static size_t BucketIndex(uint64_t value) {
    if (value < kSubBuckets) return static_cast<size_t>(value);
    const int top_bit = 63 - __builtin_clzll(value);  // >= kSubBucketBits
    const int shift = top_bit - kSubBucketBits;
    const uint64_t sub_bucket = (value >> shift) - kSubBuckets;  // in [0, kSubBuckets)
    return kSubBuckets + static_cast<size_t>(shift) * kSubBuckets + static_cast<size_t>(sub_bucket);
  }

  // Smallest value that falls into bucket `index`.
  static uint64_t BucketLowerBound(size_t index) {
    if (index < kSubBuckets) return index;
    const size_t shift = (index - kSubBuckets) / kSubBuckets;
    const uint64_t sub_bucket = (index - kSubBuckets) % kSubBuckets;
    return (kSubBuckets + sub_bucket) << shift;
  }

  // Largest value that falls into bucket `index`.
  static uint64_t BucketUpperBound(size_t index) {
    if (index < kSubBuckets) return index;
    const size_t shift = (index - kSubBuckets) / kSubBuckets;
    return BucketLowerBound(index) + ((uint64_t{1} << shift) - 1);
  }

 private:
  std::array<std::atomic<uint64_t>, kBucketCount> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace sb::loadgen
