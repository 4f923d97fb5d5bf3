#include "sb/common/config.h"

#include <unistd.h>

#include "sb/common/service_settings.h"

#include <cctype>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sb {
namespace {

std::string FlagToVariable(std::string_view flag) {
  std::string name = "SB_";
  for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

bool LooksSecret(const std::string& name) {
  for (const char* word : {"SECRET", "PASSWORD", "TOKEN", "KEY", "URL", "DSN"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::optional<absl::Duration> ParseDuration(std::string_view input) {
  // Debian's abseil keeps its own string_view type (not std::string_view), so convert at the call.
  absl::string_view text = absl::StripAsciiWhitespace(absl::string_view(input.data(), input.size()));
  if (text.empty()) return std::nullopt;
  int64_t bare = 0;
  if (absl::SimpleAtoi(text, &bare)) {
    if (bare < 0) return std::nullopt;
    return absl::Seconds(bare);
  }
  absl::Duration d;
  // absl accepts Go-style units (ns, us, ms, s, m, h) and compounds like "1m30s".
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return std::nullopt;
  }
  return d;
}

EnvConfig::EnvConfig(int argc, const char* const* argv)
    : EnvConfig(
          [](const std::string& name) -> std::optional<std::string> {
            const char* v = std::getenv(name.c_str());
            if (v == nullptr) return std::nullopt;
            return std::string(v);
          },
          argv == nullptr ? std::vector<std::string>{} : std::vector<std::string>(argv + 1, argv + argc)) {}

EnvConfig::EnvConfig(Lookup lookup, std::vector<std::string> args) : lookup_(std::move(lookup)) {
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--") || arg.empty()) {
      flag_errors_.push_back("unexpected argument '" + args[i] + "' (flags look like --grpc-port=7001)");
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    std::string_view flag(arg.data(), eq == absl::string_view::npos ? arg.size() : eq);
    if (eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    } else {
      value = "true";  // a bare boolean flag
    }
    flags_[FlagToVariable(flag)] = value;
  }
}

std::optional<std::string> EnvConfig::Raw(const std::string& name) {
  std::optional<std::string> value;
  if (auto it = flags_.find(name); it != flags_.end()) {
    value = it->second;
  } else {
    value = lookup_(name);
  }
  effective_[name] = value ? (LooksSecret(name) && !value->empty() ? "<set>" : *value) : "<default>";
  return value;
}

void EnvConfig::AddError(const std::string& name, const std::string& value, const std::string& expected) {
  errors_.push_back(name + "='" + value + "': expected " + expected);
}

std::string EnvConfig::String(const std::string& name, const std::string& default_value) {
  auto v = Raw(name);
  return v ? *v : default_value;
}

std::string EnvConfig::RequiredString(const std::string& name) {
  auto v = Raw(name);
  if (!v || v->empty()) {
    errors_.push_back(name + " is required but not set");
    return "";
  }
  return *v;
}

int64_t EnvConfig::Int(const std::string& name, int64_t default_value, int64_t min_value, int64_t max_value) {
  auto v = Raw(name);
  if (!v) return default_value;
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(*v, &parsed) || parsed < min_value || parsed > max_value) {
    AddError(name, *v, "an integer from " + std::to_string(min_value) + " to " + std::to_string(max_value));
    return default_value;
  }
  return parsed;
}

bool EnvConfig::Bool(const std::string& name, bool default_value) {
  auto v = Raw(name);
  if (!v) return default_value;
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*v));
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  AddError(name, *v, "a boolean (true/false, 1/0, yes/no, on/off)");
  return default_value;
}

absl::Duration EnvConfig::Duration(const std::string& name, absl::Duration default_value) {
  auto v = Raw(name);
  if (!v) return default_value;
  auto d = ParseDuration(*v);
  if (!d) {
    AddError(name, *v, "a duration such as 250ms, 5s, 1m30s or 2h");
    return default_value;
  }
  return *d;
}

std::vector<std::string> EnvConfig::List(const std::string& name, const std::vector<std::string>& default_value) {
  auto v = Raw(name);
  if (!v) return default_value;
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(*v, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

absl::Status EnvConfig::status() const {
  std::vector<std::string> all = flag_errors_;
  all.insert(all.end(), errors_.begin(), errors_.end());
  for (const auto& [name, value] : flags_) {
    if (!effective_.contains(name)) all.push_back("unknown flag for " + name);
  }
  if (all.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError("bad configuration: " + absl::StrJoin(all, "; "));
}

}  // namespace sb

namespace sb {

std::string DefaultInstanceId(std::string_view service) {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    return std::string(service) + "-" + std::to_string(getpid());
  }
  return std::string(host) + "-" + std::to_string(getpid());
}

}  // namespace sb
