#include "sb/redis/url.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace sb::redis {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Passwords often contain reserved characters, so URLs carry them percent-encoded.
absl::StatusOr<std::string> PercentDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return absl::InvalidArgumentError("redis url: truncated percent escape");
    }
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("redis url: bad percent escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

absl::StatusOr<Endpoint> ParseUrl(const std::string& url) {
  absl::string_view rest = url;
  if (absl::StartsWith(rest, "rediss://")) {
    return absl::UnimplementedError("redis url: TLS (rediss://) is not supported");
  }
  if (!absl::ConsumePrefix(&rest, "redis://")) {
    return absl::InvalidArgumentError(absl::StrCat("redis url must start with redis://: ", url));
  }
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError("redis url: query and fragment are not supported");
  }
  Endpoint endpoint;

  absl::string_view authority = rest, path;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }

  if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    absl::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    absl::string_view user = userinfo, password;
    if (size_t colon = userinfo.find(':'); colon != absl::string_view::npos) {
      user = userinfo.substr(0, colon);
      password = userinfo.substr(colon + 1);
    }
    auto decoded_user = PercentDecode(user);
    if (!decoded_user.ok()) return decoded_user.status();
    auto decoded_password = PercentDecode(password);
    if (!decoded_password.ok()) return decoded_password.status();
    endpoint.username = *decoded_user;
    endpoint.password = *decoded_password;
    if (endpoint.password.empty() && !endpoint.username.empty()) {
      // "redis://secret@host" is how some tools write a password-only URL.
      endpoint.password = endpoint.username;
      endpoint.username.clear();
    }
  }

  absl::string_view port_text;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("redis url: unclosed [");
    endpoint.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!absl::ConsumePrefix(&after, ":")) return absl::InvalidArgumentError("redis url: bad host");
      port_text = after;
      if (port_text.empty()) return absl::InvalidArgumentError("redis url: empty port");
    }
  } else if (size_t colon = authority.rfind(':'); colon != absl::string_view::npos) {
    endpoint.host = std::string(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
    if (port_text.empty()) return absl::InvalidArgumentError("redis url: empty port");
  } else {
    endpoint.host = std::string(authority);
  }
  if (endpoint.host.empty()) return absl::InvalidArgumentError(absl::StrCat("redis url: no host: ", url));
  if (!port_text.empty()) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("redis url: bad port: ", port_text));
    }
    endpoint.port = port;
  }

  if (!path.empty()) {
    int db = 0;
    if (!absl::SimpleAtoi(path, &db) || db < 0) {
      return absl::InvalidArgumentError(absl::StrCat("redis url: bad database number: ", path));
    }
    endpoint.db = db;
  }
  return endpoint;
}

}  // namespace sb::redis
