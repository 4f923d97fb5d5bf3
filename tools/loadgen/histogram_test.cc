#include "histogram.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>
#include <algorithm>

using sb::loadgen::LatencyHistogram;

TEST_CASE("every value falls inside its bucket and buckets are ordered", "[loadgen]") {
  std::vector<uint64_t> values = {0, 1, 63, 64, 65, 127, 128, 129, 1000, 4095, 4096, 123456789,
                                  (uint64_t{1} << 40) + 12345, UINT64_MAX};
  for (uint64_t v : values) {
    const size_t index = LatencyHistogram::BucketIndex(v);
    INFO("value " << v << " index " << index);
    REQUIRE(index < LatencyHistogram::kBucketCount);
    CHECK(LatencyHistogram::BucketLowerBound(index) <= v);
    CHECK(v <= LatencyHistogram::BucketUpperBound(index));
  }
  // Adjacent buckets tile the range without gaps.
  for (size_t i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    REQUIRE(LatencyHistogram::BucketUpperBound(i) + 1 == LatencyHistogram::BucketLowerBound(i + 1));
  }
}

TEST_CASE("bucket width stays within 1/64 of the value", "[loadgen]") {
  for (uint64_t v = 64; v < (uint64_t{1} << 50); v = v * 3 + 7) {
    const size_t index = LatencyHistogram::BucketIndex(v);
    const uint64_t width = LatencyHistogram::BucketUpperBound(index) - LatencyHistogram::BucketLowerBound(index);
    CHECK(static_cast<double>(width) <= static_cast<double>(v) / 64.0);
  }
}

TEST_CASE("percentiles match an exact sort within bucket precision", "[loadgen]") {
  LatencyHistogram histogram;
  CHECK(histogram.Percentile(0.5) == 0);
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> latency(12.0, 1.5);  // ~160 us median, long tail
  std::vector<uint64_t> values;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<uint64_t>(latency(random));
    values.push_back(v);
    histogram.Record(v);
  }
  std::sort(values.begin(), values.end());
  CHECK(histogram.count() == values.size());
  CHECK(histogram.max() == values.back());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const uint64_t exact = values[static_cast<size_t>(q * values.size()) - 1];
    const uint64_t reported = histogram.Percentile(q);
    INFO("quantile " << q << " exact " << exact << " reported " << reported);
    CHECK(reported >= exact);
    CHECK(static_cast<double>(reported) <= static_cast<double>(exact) * (1.0 + 1.0 / 64.0) + 1.0);
  }
  CHECK(histogram.Percentile(1.0) == values.back());
}
