#include "sb/metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sb::metrics {

void Counter::Increment(double amount) {
  if (!(amount >= 0.0)) return;  // also rejects NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // Bucket i holds observations with bounds[i-1] < value <= bounds[i]; NaN lands in +Inf.
  size_t index = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  if (std::isnan(value)) index = bounds_.size();
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> DefaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double bound = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(bound);
    bound *= factor;
  }
  return out;
}

CallbackHandle::CallbackHandle(CallbackHandle&& other) noexcept
    : registry_(other.registry_), id_(other.id_) {
  other.registry_ = nullptr;
}

CallbackHandle& CallbackHandle::operator=(CallbackHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = other.registry_;
    id_ = other.id_;
    other.registry_ = nullptr;
  }
  return *this;
}

void CallbackHandle::Reset() {
  if (registry_ != nullptr) registry_->RemoveCallback(id_);
  registry_ = nullptr;
}

namespace {

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

// Renders {a="x",b="y"} plus an optional trailing label (the histogram's le); "" when empty.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const char* extra_name = nullptr, const std::string& extra_value = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(i < values.size() ? values[i] : "");
    out += '"';
  }
  if (extra_name != nullptr) {
    out += out.empty() ? "{" : ",";
    out += extra_name;
    out += "=\"";
    out += EscapeLabelValue(extra_value);
    out += '"';
  }
  if (!out.empty()) out += '}';
  return out;
}

void AppendSample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name;
  out += labels;
  out += ' ';
  out += FormatValue(value);
  out += '\n';
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

Registry::Entry& Registry::FindOrAdd(MetricType type, const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names, bool is_callback) {
  for (auto& entry : entries_) {
    if (entry->name != name) continue;
    if (entry->type != type || entry->label_names != label_names || entry->is_callback != is_callback) {
      throw std::logic_error("metric " + name + " registered twice with different type or labels");
    }
    return *entry;
  }
  auto entry = std::make_unique<Entry>();
  entry->type = type;
  entry->name = name;
  entry->help = help;
  entry->label_names = label_names;
  entry->is_callback = is_callback;
  entries_.push_back(std::move(entry));
  return *entries_.back();
}

CounterFamily& Registry::Counter(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& label_names) {
  std::lock_guard lock(mu_);
  Entry& entry = FindOrAdd(MetricType::kCounter, name, help, label_names, false);
  if (!entry.counter) {
    entry.counter = std::make_unique<CounterFamily>(
        name, help, label_names, [] { return std::make_unique<metrics::Counter>(); });
  }
  return *entry.counter;
}

GaugeFamily& Registry::Gauge(const std::string& name, const std::string& help,
                             const std::vector<std::string>& label_names) {
  std::lock_guard lock(mu_);
  Entry& entry = FindOrAdd(MetricType::kGauge, name, help, label_names, false);
  if (!entry.gauge) {
    entry.gauge = std::make_unique<GaugeFamily>(
        name, help, label_names, [] { return std::make_unique<metrics::Gauge>(); });
  }
  return *entry.gauge;
}

HistogramFamily& Registry::Histogram(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names,
                                     std::vector<double> buckets) {
  if (buckets.empty()) buckets = DefaultBuckets();
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  // +Inf is always implicit; an explicit one would render twice.
  while (!buckets.empty() && std::isinf(buckets.back())) buckets.pop_back();
  std::lock_guard lock(mu_);
  Entry& entry = FindOrAdd(MetricType::kHistogram, name, help, label_names, false);
  if (!entry.histogram) {
    entry.histogram = std::make_unique<HistogramFamily>(
        name, help, label_names, [buckets] { return std::make_unique<metrics::Histogram>(buckets); });
  }
  return *entry.histogram;
}

CallbackHandle Registry::AddCallback(MetricType type, const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names,
                                     const std::vector<std::string>& label_values,
                                     std::function<double()> fn) {
  if (type == MetricType::kHistogram) throw std::logic_error("callback metric " + name + " cannot be a histogram");
  std::lock_guard lock(mu_);
  Entry& entry = FindOrAdd(type, name, help, label_names, true);
  uint64_t id = next_callback_id_++;
  entry.callbacks.push_back(CallbackSeries{id, label_values, std::move(fn)});
  return CallbackHandle(this, id);
}

void Registry::RemoveCallback(uint64_t id) {
  std::lock_guard lock(mu_);
  for (auto& entry : entries_) {
    auto& series = entry->callbacks;
    series.erase(std::remove_if(series.begin(), series.end(), [id](const CallbackSeries& s) { return s.id == id; }),
                 series.end());
  }
}

bool Registry::Has(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& entry : entries_) {
    if (entry->name == name) return true;
  }
  return false;
}

std::string Registry::Expose() const {
  std::string out;
  // Callbacks run under mu_, so a CallbackHandle cannot be reset (and its data freed) mid-call.
  std::lock_guard lock(mu_);
  for (const auto& entry : entries_) {
    if (entry->is_callback && entry->callbacks.empty()) continue;
    out += "# HELP " + entry->name + " " + EscapeHelp(entry->help) + "\n";
    out += "# TYPE " + entry->name + " " + TypeName(entry->type) + "\n";
    const auto& names = entry->label_names;
    if (entry->is_callback) {
      for (const auto& series : entry->callbacks) {
        AppendSample(out, entry->name, LabelText(names, series.label_values), series.fn());
      }
    } else if (entry->counter) {
      entry->counter->ForEach([&](const std::vector<std::string>& values, const metrics::Counter& c) {
        AppendSample(out, entry->name, LabelText(names, values), c.Value());
      });
    } else if (entry->gauge) {
      entry->gauge->ForEach([&](const std::vector<std::string>& values, const metrics::Gauge& g) {
        AppendSample(out, entry->name, LabelText(names, values), g.Value());
      });
    } else if (entry->histogram) {
      entry->histogram->ForEach([&](const std::vector<std::string>& values, const metrics::Histogram& h) {
        std::vector<uint64_t> counts = h.CumulativeCounts();
        const auto& bounds = h.bounds();
        for (size_t i = 0; i < bounds.size(); ++i) {
          AppendSample(out, entry->name + "_bucket", LabelText(names, values, "le", FormatValue(bounds[i])),
                       static_cast<double>(counts[i]));
        }
        AppendSample(out, entry->name + "_bucket", LabelText(names, values, "le", "+Inf"),
                     static_cast<double>(counts.back()));
        AppendSample(out, entry->name + "_sum", LabelText(names, values), h.Sum());
        // _count is the +Inf bucket of the same snapshot, so the two always agree.
        AppendSample(out, entry->name + "_count", LabelText(names, values), static_cast<double>(counts.back()));
      });
    }
  }
  return out;
}

Registry& DefaultRegistry() {
  static Registry* registry = new Registry();  // never destroyed: used from threads at exit
  return *registry;
}

}  // namespace sb::metrics
