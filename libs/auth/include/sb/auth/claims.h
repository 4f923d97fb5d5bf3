// The identity a verified token carries.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "absl/time/time.h"

namespace sb::auth {

// Longest accepted `sub` (user id), in bytes.
inline constexpr size_t kMaxSubjectBytes = 128;

// Claims of a verified token. After Verifier::Verify: `sub` is non-empty and at most
// kMaxSubjectBytes; the optional string members are "" when absent; `raw` is the whole payload
// object (iss, aud, custom claims, ...).
// For Mint: `raw` is the starting payload and the typed members, when set, overwrite it.
struct Claims {
  std::string sub;       // user id
  std::string username;  // optional
  std::string name;      // optional display name
  std::string avatar;    // optional avatar URL
  std::vector<std::string> roles;
  std::optional<absl::Time> exp;  // expiry ("exp"), whole seconds when minted
  std::optional<absl::Time> iat;  // issued at ("iat")
  boost::json::object raw;
};

}  // namespace sb::auth
