// JSON logs to stdout, one object per line:
//   {"ts":"2026-11-23T13:04:05.123Z","level":"info","service":"chat","msg":"...","request_id":"...",...}
//
// Fields are typed (boost::json::value), so values are always escaped correctly. The request id of
// the current thread (set by RequestIdScope, e.g. by the gRPC access-log interceptor) is added to
// every line written while the scope is alive.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <cstdint>

#include <boost/json/value.hpp>

namespace sb::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key/value on a log line. Strings, numbers, booleans and JSON values convert implicitly.
struct Field {
  Field(std::string_view k, boost::json::value v) : key(k), value(std::move(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(boost::json::string_view(v)) {}
  Field(std::string_view k, std::string_view v) : key(k), value(boost::json::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(boost::json::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<uint64_t>(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(static_cast<uint64_t>(v)) {}
  Field(std::string_view k, unsigned long long v) : key(k), value(static_cast<uint64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}

  std::string_view key;
  boost::json::value value;
};

// Sets the service name on every line and the lowest level written. Safe to call again.
void Init(std::string service, Level min_level = Level::kInfo);
// "debug", "info", "warn", "error" (case-insensitive); anything else -> nullopt-like kInfo + false.
bool ParseLevel(std::string_view text, Level* out);
bool Enabled(Level level);

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kDebug, msg, fields); }
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kInfo, msg, fields); }
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kWarn, msg, fields); }
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kError, msg, fields); }

// Renders one log line without writing it (used by Write; exposed for tests).
std::string Format(Level level, std::string_view msg, std::initializer_list<Field> fields);

// Where lines go; stdout by default. Tests may capture them.
using Sink = void (*)(std::string_view line);
void SetSinkForTesting(Sink sink);

// Attaches a request id to every line written by this thread while alive; nests.
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string request_id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string previous_;
};

// The current thread's request id, or "" outside any scope.
const std::string& CurrentRequestId();
// A fresh random request id (16 hex chars).
std::string NewRequestId();

}  // namespace sb::log
