// Prometheus-style metrics: counters, gauges and histograms with label sets, rendered in the text
// exposition format 0.0.4. (prometheus-cpp is not packaged in Debian bookworm, hence our own.)
//
//   auto& handled = sb::metrics::DefaultRegistry().Counter(
//       "sb_grpc_server_handled_total", "RPCs completed on the server.", {"method", "code"});
//   handled.Labels({"/pkg.Svc/M", "OK"}).Increment();
//
// Hot path: updating a value is one atomic operation. Labels() takes a shared (reader) lock to
// find an existing label set and an exclusive lock only the first time a label set is seen.
// References returned by Counter()/Labels() stay valid for the registry's lifetime, so hot code
// may look a child up once and keep the reference.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace sb::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// A monotonically increasing value.
class Counter {
 public:
  // Adds `amount`; negative or NaN amounts are ignored (counters never go down).
  void Increment(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Increment(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Decrement(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into fixed buckets (upper bounds, inclusive) plus their sum.
class Histogram {
 public:
  // `bounds` must be sorted ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then the +Inf bucket (== total count); size bounds()+1.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
};

// The Prometheus client default buckets (seconds): .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> DefaultBuckets();
// `count` buckets start, start*factor, start*factor^2, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// One metric name with a fixed list of label names; each distinct list of label values is a child.
template <typename T>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names, Factory factory)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
        factory_(std::move(factory)) {}

  // The child for these label values, created on first use. Values must match label_names() in
  // number; missing values are treated as "" and extra ones are dropped, so a mistake in a caller
  // can never crash the process.
  T& Labels(const std::vector<std::string>& values) {
    if (values.size() != label_names_.size()) {
      std::vector<std::string> fixed = values;
      fixed.resize(label_names_.size());
      return LabelsExact(fixed);
    }
    return LabelsExact(values);
  }
  // The child with no labels (for families declared without label names).
  T& Get() { return Labels({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls fn(label_values, child) for every child, in label-value order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::shared_lock lock(mu_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 private:
  T& LabelsExact(const std::vector<std::string>& values) {
    {
      std::shared_lock lock(mu_);
      auto it = children_.find(values);
      if (it != children_.end()) return *it->second;
    }
    std::unique_lock lock(mu_);
    auto& slot = children_[values];
    if (!slot) slot = factory_();
    return *slot;
  }

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Factory factory_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry;

// Keeps a scrape-time callback registered; destroying (or Reset()ting) it removes the series.
// Own it next to whatever the callback reads (e.g. the pool) so it never outlives its data.
class CallbackHandle {
 public:
  CallbackHandle() = default;
  CallbackHandle(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
  CallbackHandle(CallbackHandle&& other) noexcept;
  CallbackHandle& operator=(CallbackHandle&& other) noexcept;
  CallbackHandle(const CallbackHandle&) = delete;
  CallbackHandle& operator=(const CallbackHandle&) = delete;
  ~CallbackHandle() { Reset(); }
  // Removes the series now.
  void Reset();
  // Keeps the series for the registry's whole lifetime; the handle becomes empty.
  void Detach() { registry_ = nullptr; }

 private:
  Registry* registry_ = nullptr;
  uint64_t id_ = 0;
};

// Owns metric families and renders them. Thread-safe.
//
// Registering a name again with the same type and label names returns the existing family (so
// independent components may declare the same metric). Reusing a name with a different type or
// label names is a programming error and throws std::logic_error at registration time.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily& Counter(const std::string& name, const std::string& help,
                         const std::vector<std::string>& label_names = {});
  GaugeFamily& Gauge(const std::string& name, const std::string& help,
                     const std::vector<std::string>& label_names = {});
  // `buckets` empty -> DefaultBuckets(). Unsorted bounds are sorted; duplicates dropped.
  HistogramFamily& Histogram(const std::string& name, const std::string& help,
                             const std::vector<std::string>& label_names = {},
                             std::vector<double> buckets = {});

  // A series whose value is computed by `fn` at scrape time (e.g. a pool's size). Several calls
  // with the same name form one family; `type` must be kGauge or kCounter. `fn` runs on the
  // scraping thread under the registry's lock: it must be cheap, thread-safe and must not call
  // into the registry. The series exists while the handle lives; the handle must not outlive
  // the registry.
  [[nodiscard]] CallbackHandle AddCallback(MetricType type, const std::string& name,
                                           const std::string& help,
                                           const std::vector<std::string>& label_names,
                                           const std::vector<std::string>& label_values,
                                           std::function<double()> fn);
  [[nodiscard]] CallbackHandle AddGaugeCallback(const std::string& name, const std::string& help,
                                                std::function<double()> fn) {
    return AddCallback(MetricType::kGauge, name, help, {}, {}, std::move(fn));
  }

  // True if a family with this name is registered.
  bool Has(const std::string& name) const;

  // The whole registry in Prometheus text format 0.0.4, families in registration order.
  std::string Expose() const;

 private:
  friend class CallbackHandle;
  struct CallbackSeries {
    uint64_t id;
    std::vector<std::string> label_values;
    std::function<double()> fn;
  };
  struct Entry {
    MetricType type;
    std::string name;
    std::string help;
    std::vector<std::string> label_names;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    std::vector<CallbackSeries> callbacks;  // callback families only
    bool is_callback = false;
  };
  Entry& FindOrAdd(MetricType type, const std::string& name, const std::string& help,
                   const std::vector<std::string>& label_names, bool is_callback);
  void RemoveCallback(uint64_t id);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
  uint64_t next_callback_id_ = 1;
};

// The process-wide registry that libraries use unless given another one.
Registry& DefaultRegistry();

// Adds process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
// process_open_fds, process_max_fds and process_start_time_seconds (read from /proc at scrape
// time) to `registry`. Idempotent per registry; the series live as long as the registry.
void RegisterProcessMetrics(Registry& registry);

// Text-format helpers, exposed for tests and for other exporters.
std::string EscapeLabelValue(const std::string& value);  // \ -> \\, " -> \", newline -> \n
std::string EscapeHelp(const std::string& help);          // \ -> \\, newline -> \n
std::string FormatValue(double value);                    // shortest round-trip; NaN, +Inf, -Inf

}  // namespace sb::metrics
