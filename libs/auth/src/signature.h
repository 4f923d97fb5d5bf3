// JWS signature primitives shared by the verifier and the minting helpers (internal).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sb/auth/keys.h"

namespace sb::auth::internal {

// The JWS signature of `signing_input` ("<header>.<payload>") with `key`, in JOSE form: the HMAC
// for HS256, the PKCS#1 v1.5 signature for RS256, raw r||s (64 bytes) for ES256.
// FailedPrecondition if the key cannot sign (a public key).
absl::StatusOr<std::string> Sign(const Key& key, std::string_view signing_input);

// True only if `signature` is a valid JOSE signature of `signing_input` under `key` with the key's
// algorithm. HMACs are compared in constant time.
bool VerifySignature(const Key& key, std::string_view signing_input, std::string_view signature);

}  // namespace sb::auth::internal
