// Parsing of Redis connection URLs.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace sb::redis {

// Where and how to connect.
struct Endpoint {
  std::string host;
  int port = 6379;
  std::string username;  // empty: AUTH with the password only (the "default" user)
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed after connecting when non-zero
};

// Parses "redis://[[user]:password@]host[:port][/db]". The host may be a name, IPv4 or "[IPv6]";
// user and password are percent-decoded. InvalidArgument on anything else; "rediss://" (TLS) is
// Unimplemented because the hiredis we build on has no TLS.
absl::StatusOr<Endpoint> ParseUrl(const std::string& url);

}  // namespace sb::redis
