#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "sb/metrics/metrics.h"

using sb::metrics::Registry;

TEST_CASE("counters and gauges render HELP, TYPE and labelled samples in label order") {
  Registry registry;
  auto& handled = registry.Counter("sb_requests_total", "Requests handled.", {"method", "code"});
  handled.Labels({"/pkg.Svc/M", "OK"}).Increment();
  handled.Labels({"/pkg.Svc/M", "OK"}).Increment(2);
  handled.Labels({"/pkg.Svc/A", "UNAVAILABLE"}).Increment(0.5);
  handled.Labels({"/pkg.Svc/A", "UNAVAILABLE"}).Increment(-7);  // ignored: counters never go down
  auto& sessions = registry.Gauge("sb_sessions", "Open sessions.");
  sessions.Get().Set(10);
  sessions.Get().Decrement(3);

  CHECK(registry.Expose() ==
        "# HELP sb_requests_total Requests handled.\n"
        "# TYPE sb_requests_total counter\n"
        "sb_requests_total{method=\"/pkg.Svc/A\",code=\"UNAVAILABLE\"} 0.5\n"
        "sb_requests_total{method=\"/pkg.Svc/M\",code=\"OK\"} 3\n"
        "# HELP sb_sessions Open sessions.\n"
        "# TYPE sb_sessions gauge\n"
        "sb_sessions 7\n");
}

TEST_CASE("label values and help text are escaped") {
  Registry registry;
  registry.Gauge("g", "line one\nback\\slash \"quotes stay\"", {"v"}).Labels({"a\\b\"c\nd"}).Set(1);
  CHECK(registry.Expose() ==
        "# HELP g line one\\nback\\\\slash \"quotes stay\"\n"
        "# TYPE g gauge\n"
        "g{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST_CASE("histograms render cumulative buckets, +Inf, sum and count") {
  Registry registry;
  auto& h = registry.Histogram("latency_seconds", "Latency.", {"method"}, {0.25, 1, 0.5});
  auto& m = h.Labels({"M"});
  m.Observe(0.125);
  m.Observe(0.25);  // upper bounds are inclusive
  m.Observe(0.375);
  m.Observe(2);
  CHECK(registry.Expose() ==
        "# HELP latency_seconds Latency.\n"
        "# TYPE latency_seconds histogram\n"
        "latency_seconds_bucket{method=\"M\",le=\"0.25\"} 2\n"
        "latency_seconds_bucket{method=\"M\",le=\"0.5\"} 3\n"
        "latency_seconds_bucket{method=\"M\",le=\"1\"} 3\n"
        "latency_seconds_bucket{method=\"M\",le=\"+Inf\"} 4\n"
        "latency_seconds_sum{method=\"M\"} 2.75\n"
        "latency_seconds_count{method=\"M\"} 4\n");
}

TEST_CASE("values format as shortest round-trip numbers with Prometheus special values") {
  using sb::metrics::FormatValue;
  CHECK(FormatValue(3) == "3");
  CHECK(FormatValue(0.005) == "0.005");
  CHECK(FormatValue(-2.5) == "-2.5");
  CHECK(FormatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatValue(std::nan("")) == "NaN");
}

TEST_CASE("concurrent increments from several threads sum exactly") {
  Registry registry;
  auto& family = registry.Counter("c_total", "c", {"k"});
  auto& h = registry.Histogram("h", "h", {}, {1});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Half the label lookups race to create the same new child.
        family.Labels({i % 2 == 0 ? "shared" : "t" + std::to_string(t)}).Increment();
        h.Get().Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(family.Labels({"shared"}).Value() == kThreads * kPerThread / 2);
  for (int t = 0; t < kThreads; ++t) CHECK(family.Labels({"t" + std::to_string(t)}).Value() == kPerThread / 2);
  CHECK(h.Get().CumulativeCounts().back() == kThreads * kPerThread);
  CHECK(h.Get().Sum() == 0.5 * kThreads * kPerThread);
}

TEST_CASE("re-registering returns the same family; a conflicting type or labels throws") {
  Registry registry;
  auto& a = registry.Counter("x_total", "x", {"a"});
  auto& b = registry.Counter("x_total", "x", {"a"});
  CHECK(&a == &b);
  CHECK_THROWS_AS(registry.Gauge("x_total", "x", {"a"}), std::logic_error);
  CHECK_THROWS_AS(registry.Counter("x_total", "x", {"b"}), std::logic_error);
}

TEST_CASE("a wrong number of label values never crashes and maps to padded values") {
  Registry registry;
  auto& family = registry.Counter("y_total", "y", {"a", "b"});
  family.Labels({"only"}).Increment();
  CHECK(&family.Labels({"only"}) == &family.Labels({"only", ""}));
  CHECK(registry.Expose().find("y_total{a=\"only\",b=\"\"} 1\n") != std::string::npos);
}

TEST_CASE("callback gauges are computed at scrape time and vanish with their handle") {
  Registry registry;
  int pool_size = 3;
  {
    auto handle = registry.AddCallback(sb::metrics::MetricType::kGauge, "pool_size", "Pool size.", {"pool"},
                                       {"pg"}, [&] { return static_cast<double>(pool_size); });
    CHECK(registry.Expose() == "# HELP pool_size Pool size.\n# TYPE pool_size gauge\npool_size{pool=\"pg\"} 3\n");
    pool_size = 5;
    CHECK(registry.Expose().find("pool_size{pool=\"pg\"} 5\n") != std::string::npos);
  }
  CHECK(registry.Expose().find("pool_size") == std::string::npos);
}

TEST_CASE("process metrics are read from /proc") {
  Registry registry;
  sb::metrics::RegisterProcessMetrics(registry);
  sb::metrics::RegisterProcessMetrics(registry);  // idempotent
  std::string text = registry.Expose();
  auto value_of = [&](const std::string& name) {
    auto pos = text.find("\n" + name + " ");
    REQUIRE(pos != std::string::npos);
    return std::stod(text.substr(pos + name.size() + 2));
  };
  CHECK(value_of("process_resident_memory_bytes") > 1024 * 1024);
  CHECK(value_of("process_open_fds") >= 3);
  CHECK(value_of("process_cpu_seconds_total") >= 0);
  double start = value_of("process_start_time_seconds");
  double now = static_cast<double>(std::time(nullptr));
  CHECK(start <= now + 1);
  CHECK(start > now - 3600);
  CHECK(text.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
}
