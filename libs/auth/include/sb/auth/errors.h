// Why a token was refused, in a form both people and machines can use.
//
// Every refusal is an absl::Status with code Unauthenticated, a specific human message ("token
// expired", "signature mismatch", ...) and a machine-readable Reason attached as a status payload.
// The gateway shows ReasonCode() to clients and counts refusals by it in metrics.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sb::auth {

enum class Reason {
  kNone = 0,        // not an auth refusal (OK status or some other error)
  kMissingToken,    // "missing_token": no token was presented
  kTooLarge,        // "too_large": longer than the configured maximum, refused before parsing
  kMalformed,       // "malformed": not three strict base64url parts, not JSON objects, bad claim types
  kAlgNotAllowed,   // "alg_not_allowed": "none", unknown alg, or alg differing from the key's
  kUnknownKey,      // "unknown_key": no configured key for the token's kid
  kBadSignature,    // "bad_signature"
  kExpired,         // "expired"
  kNotYetValid,     // "not_yet_valid": nbf in the future, or iat in the future
  kMissingExp,      // "missing_exp": exp absent while required
  kBadIssuer,       // "bad_issuer"
  kBadAudience,     // "bad_audience"
  kBadSubject,      // "bad_subject": sub missing, empty, not a string, or longer than 128 bytes
};

// Short stable code for metrics labels and client error payloads ("expired", "bad_signature", ...);
// "" for kNone.
std::string_view ReasonCode(Reason reason);

// An Unauthenticated status carrying `reason` as a payload.
absl::Status AuthError(Reason reason, std::string message);

// The reason attached by AuthError; kNone for OK and for statuses not made by AuthError.
Reason RefusalReason(const absl::Status& status);

}  // namespace sb::auth
