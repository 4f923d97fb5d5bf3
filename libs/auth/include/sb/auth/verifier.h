// JWT (JWS compact) verification following RFC 8725, for HS256, RS256 and ES256.
//
//   SB_ASSIGN_OR_RETURN(sb::auth::AuthOptions options, sb::auth::AuthOptionsFromEnv(env));
//   SB_ASSIGN_OR_RETURN(sb::auth::Verifier verifier, sb::auth::Verifier::FromOptions(options));
//   absl::StatusOr<sb::auth::Claims> claims = verifier.Verify(token);
//   if (!claims.ok()) reply(sb::auth::ReasonCode(sb::auth::RefusalReason(claims.status())), ...);
//
// What a token must satisfy, in the order checked (the first failure is reported):
//   1. at most max_token_bytes long (before any parsing)                        too_large
//   2. three parts of strict base64url; header a JSON object with an "alg"       malformed
//   3. "alg" is never "none" (any case)                                          alg_not_allowed
//      the header has no "crit" (we implement no JWS extensions)                 malformed
//      "alg" equals the algorithm of a configured key; the token cannot choose
//      the algorithm                                                             alg_not_allowed
//   4. a key with the token's "kid" exists (tokens without kid, or with a kid
//      no key claims while kid-less keys exist, try every key of that alg)       unknown_key
//   5. the signature verifies under one of those keys                            bad_signature
//   6. payload is a JSON object; exp/nbf/iat are numbers; username, name,
//      avatar are strings and roles an array of strings when present            malformed
//   7. exp present (unless require_exp is false) and now < exp + leeway          missing_exp / expired
//   8. now >= nbf - leeway and iat <= now + leeway                               not_yet_valid
//   9. iss equals `issuer` when configured                                       bad_issuer
//  10. aud (string or array) contains one of `audiences` when configured         bad_audience
//  11. sub is a non-empty string of at most 128 bytes                            bad_subject
// Every refusal is Unauthenticated with a specific message and Reason (sb/auth/errors.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/auth/claims.h"
#include "sb/auth/errors.h"
#include "sb/auth/keys.h"

namespace sb {
class EnvConfig;
}

namespace sb::auth {

// Where keys come from and what the claims must satisfy.
struct AuthOptions {
  // HS256 shared secret (dev); "" disables HS256. At least 32 bytes.
  std::string hs256_secret;
  // PEM public key (or certificate) files. An entry "kid=path" gives the key that kid.
  std::vector<std::string> public_key_files;
  // PEM public keys given inline (same "kid=" convention is NOT applied; they have no kid).
  std::vector<std::string> public_key_pems;
  // A JWK Set file; its keys keep their "kid". "" for none.
  std::string jwks_file;
  // Required "iss" value; "" means not checked.
  std::string issuer;
  // Accepted "aud" values (the token must name at least one); empty means not checked.
  std::vector<std::string> audiences;
  // Tolerated clock skew for exp, nbf and iat.
  absl::Duration leeway = absl::Seconds(30);
  // Longer tokens are refused before parsing.
  size_t max_token_bytes = 8 * 1024;
  // If false, tokens without "exp" are accepted (never do this in production).
  bool require_exp = true;
};

// Reads SB_JWT_SECRET, SB_JWT_PUBLIC_KEYS (comma-separated files, "kid=path" allowed),
// SB_JWT_JWKS_FILE, SB_JWT_ISSUER, SB_JWT_AUDIENCE (comma-separated), SB_JWT_LEEWAY (duration,
// default 30s), SB_JWT_MAX_TOKEN_BYTES (default 8192) and SB_JWT_REQUIRE_EXP (default true).
// Bad values are reported through env.status(), like every other EnvConfig read.
AuthOptions AuthOptionsFromEnv(sb::EnvConfig& env);

// Checks tokens against a fixed key set and claim policy. Immutable after construction, so one
// instance may be used from any number of threads at once; copies share the keys.
class Verifier {
 public:
  // Loads every configured key. InvalidArgument when no key is configured at all, when a key or
  // option is invalid; NotFound when a key file cannot be read.
  static absl::StatusOr<Verifier> FromOptions(const AuthOptions& options);

  // A verifier over an explicit key set; the key-source fields of `options` are ignored.
  // InvalidArgument if `keys` is empty or an option is invalid.
  static absl::StatusOr<Verifier> Create(std::vector<Key> keys, const AuthOptions& options);

  // The claims of `token` if it passes every check listed at the top of this file, checked
  // against the current time.
  absl::StatusOr<Claims> Verify(std::string_view token) const;
  // Same, with the time given (tests, replay of logs).
  absl::StatusOr<Claims> VerifyAt(std::string_view token, absl::Time now) const;

  const std::vector<Key>& keys() const { return keys_; }

 private:
  Verifier(std::vector<Key> keys, const AuthOptions& options);

  std::vector<Key> keys_;
  std::string issuer_;
  std::vector<std::string> audiences_;
  absl::Duration leeway_;
  size_t max_token_bytes_;
  bool require_exp_;
};

}  // namespace sb::auth
