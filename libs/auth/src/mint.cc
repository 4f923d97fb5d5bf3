#include "sb/auth/mint.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "sb/auth/base64url.h"
#include "signature.h"

namespace sb::auth {

absl::StatusOr<std::string> Mint(const Claims& claims, const Key& key) {
  if (!key.can_sign()) return absl::FailedPreconditionError("key cannot sign: a private key or HS256 secret is needed");

  boost::json::object header;
  header["alg"] = boost::json::string_view(AlgorithmName(key.algorithm()).data(), AlgorithmName(key.algorithm()).size());
  header["typ"] = "JWT";
  if (!key.kid().empty()) header["kid"] = key.kid();

  boost::json::object payload = claims.raw;
  if (!claims.sub.empty()) payload["sub"] = claims.sub;
  if (!claims.username.empty()) payload["username"] = claims.username;
  if (!claims.name.empty()) payload["name"] = claims.name;
  if (!claims.avatar.empty()) payload["avatar"] = claims.avatar;
  if (!claims.roles.empty()) {
    boost::json::array roles;
    for (const std::string& role : claims.roles) roles.emplace_back(role);
    payload["roles"] = std::move(roles);
  }
  if (claims.exp) payload["exp"] = absl::ToUnixSeconds(*claims.exp);
  if (claims.iat) payload["iat"] = absl::ToUnixSeconds(*claims.iat);

  std::string token = Base64UrlEncode(boost::json::serialize(header));
  token += '.';
  token += Base64UrlEncode(boost::json::serialize(payload));
  absl::StatusOr<std::string> signature = internal::Sign(key, token);
  if (!signature.ok()) return signature.status();
  token += '.';
  token += Base64UrlEncode(*signature);
  return token;
}

namespace {

Claims WithLifetime(const Claims& claims, absl::Duration ttl) {
  Claims timed = claims;
  // Whole seconds, as they will appear in the token.
  absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  timed.iat = now;
  timed.exp = now + ttl;
  return timed;
}

}  // namespace

absl::StatusOr<std::string> MintHs256(const Claims& claims, std::string_view secret, absl::Duration ttl) {
  absl::StatusOr<Key> key = Key::Hs256(secret);
  if (!key.ok()) return key.status();
  return Mint(WithLifetime(claims, ttl), *key);
}

absl::StatusOr<std::string> MintWithPrivateKeyPem(const Claims& claims, std::string_view private_key_pem,
                                                  absl::Duration ttl, std::string kid) {
  absl::StatusOr<Key> key = Key::FromPrivateKeyPem(private_key_pem, std::move(kid));
  if (!key.ok()) return key.status();
  return Mint(WithLifetime(claims, ttl), *key);
}

}  // namespace sb::auth
