// Typed configuration from SB_* environment variables, with command-line flags as overrides.
//
// Every service reads its settings through one EnvConfig so that all bad values are reported at
// once, each naming the variable, the bad value and what was expected:
//
//   sb::EnvConfig env(argc, argv);              // --grpc-port=7101 overrides SB_GRPC_PORT
//   int port = env.Int("SB_GRPC_PORT", 7001, 1, 65535);
//   auto dsn = env.String("SB_POSTGRES_URL", "postgresql://localhost/switchboard");
//   auto timeout = env.Duration("SB_SHUTDOWN_GRACE", absl::Seconds(20));
//   SB_RETURN_IF_ERROR(env.status());
//
// Flag names map to variables by upper-casing, '-' -> '_' and prefixing SB_ ("--grpc-port" ->
// SB_GRPC_PORT). Unknown flags are errors, reported by status() after all reads: a flag is known
// once some getter has asked for its variable.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sb {

class EnvConfig {
 public:
  using Lookup = std::function<std::optional<std::string>(const std::string&)>;

  // Reads the process environment; argv flags (--name=value or --name value) override it.
  EnvConfig(int argc = 0, const char* const* argv = nullptr);
  // For tests: variables come from `lookup` only.
  explicit EnvConfig(Lookup lookup, std::vector<std::string> args = {});

  std::string String(const std::string& name, const std::string& default_value);
  // Like String, but an unset or empty value is an error.
  std::string RequiredString(const std::string& name);
  int64_t Int(const std::string& name, int64_t default_value, int64_t min_value, int64_t max_value);
  bool Bool(const std::string& name, bool default_value);  // 1/0, true/false, yes/no, on/off
  // Go-style durations: "250ms", "5s", "1m30s", "2h"; a bare number is seconds.
  absl::Duration Duration(const std::string& name, absl::Duration default_value);
  // Comma-separated list; empty items are dropped, items are trimmed.
  std::vector<std::string> List(const std::string& name, const std::vector<std::string>& default_value);

  // OK, or InvalidArgument listing every bad value and unknown flag seen so far.
  absl::Status status() const;

  // The variables read so far and their effective values (secrets masked), for a start-up log.
  const std::map<std::string, std::string>& effective() const { return effective_; }

 private:
  std::optional<std::string> Raw(const std::string& name);
  void AddError(const std::string& name, const std::string& value, const std::string& expected);

  Lookup lookup_;
  std::map<std::string, std::string> flags_;  // SB_* name -> value from argv
  std::vector<std::string> flag_errors_;
  std::vector<std::string> errors_;
  std::map<std::string, std::string> effective_;
};

// Parses a duration as EnvConfig::Duration does; exposed for reuse and tests.
std::optional<absl::Duration> ParseDuration(std::string_view text);

}  // namespace sb
