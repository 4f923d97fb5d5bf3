#include "sb/common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sb::log {
namespace {

std::mutex g_mu;
std::string g_service = "switchboard";
std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

void StdoutSink(std::string_view line) {
  // One fwrite per line keeps lines whole when several threads log at once.
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}
std::atomic<Sink> g_sink{&StdoutSink};

thread_local std::string t_request_id;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void Init(std::string service, Level min_level) {
  std::lock_guard lock(g_mu);
  g_service = std::move(service);
  g_min_level = static_cast<int>(min_level);
}

bool ParseLevel(std::string_view text, Level* out) {
  std::string s = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (s == "debug") *out = Level::kDebug;
  else if (s == "info") *out = Level::kInfo;
  else if (s == "warn" || s == "warning") *out = Level::kWarn;
  else if (s == "error") *out = Level::kError;
  else return false;
  return true;
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

std::string Format(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  boost::json::object line;
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line["level"] = LevelName(level);
  {
    std::lock_guard lock(g_mu);
    line["service"] = g_service;
  }
  line["msg"] = msg;
  if (!t_request_id.empty()) line["request_id"] = t_request_id;
  for (const auto& f : fields) line[f.key] = f.value;
  std::string out = boost::json::serialize(line);
  out += '\n';
  return out;
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  g_sink.load()(Format(level, msg, fields));
}

void SetSinkForTesting(Sink sink) { g_sink = sink == nullptr ? &StdoutSink : sink; }

RequestIdScope::RequestIdScope(std::string request_id) : previous_(std::move(t_request_id)) {
  t_request_id = std::move(request_id);
}
RequestIdScope::~RequestIdScope() { t_request_id = std::move(previous_); }

const std::string& CurrentRequestId() { return t_request_id; }

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) id[i] = kHex[v & 0xf];
  return id;
}

}  // namespace sb::log
