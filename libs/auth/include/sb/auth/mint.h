// Creating signed tokens, for dev tools and tests (production tokens come from the host app's
// identity provider). Tokens minted here pass Verifier with the matching key.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/auth/claims.h"
#include "sb/auth/keys.h"

namespace sb::auth {

// Signs `claims` exactly as given: payload = claims.raw overlaid with the typed members that are
// set (non-empty strings, non-empty roles, exp/iat as whole Unix seconds). The header is
// {"alg":<key's alg>,"typ":"JWT"} plus "kid" when the key has one. FailedPrecondition if the key
// cannot sign (a public key).
absl::StatusOr<std::string> Mint(const Claims& claims, const Key& key);

// HS256 token valid from now for `ttl`: sets iat = now and exp = now + ttl, overriding claims.
// InvalidArgument for a secret shorter than 32 bytes.
absl::StatusOr<std::string> MintHs256(const Claims& claims, std::string_view secret, absl::Duration ttl);

// RS256 or ES256 token (chosen by the private key's type) valid from now for `ttl`, with `kid` in
// the header when non-empty. InvalidArgument for an unusable key.
absl::StatusOr<std::string> MintWithPrivateKeyPem(const Claims& claims, std::string_view private_key_pem,
                                                  absl::Duration ttl, std::string kid = {});

}  // namespace sb::auth
