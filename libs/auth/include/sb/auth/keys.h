// Keys for JWS verification and signing, each pinned to exactly one algorithm.
//
// The algorithm belongs to the key, never to the token: a verifier only accepts a token whose `alg`
// header equals the algorithm of the key that checks it (RFC 8725 §3.1). HS256 keys are shared
// secrets; RS256 and ES256 keys are RSA (>= 2048 bits) and EC P-256 keys, which can never be used
// as an HMAC secret.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace sb::auth {

enum class Algorithm { kHS256, kRS256, kES256 };

// "HS256", "RS256", "ES256".
std::string_view AlgorithmName(Algorithm algorithm);

// One key and the only algorithm it may be used with. Immutable and cheap to copy (copies share the
// OpenSSL key object); safe to use from many threads at once.
class Key {
 public:
  // HS256 shared secret. The secret must be at least 32 bytes (RFC 7518 §3.2: a key as long as the
  // hash output); shorter secrets are InvalidArgument.
  static absl::StatusOr<Key> Hs256(std::string_view secret, std::string kid = {});

  // A public key in PEM: "PUBLIC KEY" (SubjectPublicKeyInfo) or "CERTIFICATE" (its public key).
  // RSA keys become RS256 keys, EC P-256 keys ES256 keys; anything else is InvalidArgument.
  static absl::StatusOr<Key> FromPublicKeyPem(std::string_view pem, std::string kid = {});
  // Same, read from a file (NotFound if it cannot be read).
  static absl::StatusOr<Key> FromPublicKeyPemFile(const std::string& path, std::string kid = {});

  // A private key in PEM (PKCS#8 "PRIVATE KEY", or "RSA PRIVATE KEY" / "EC PRIVATE KEY"), unencrypted.
  // Can sign (Mint) and verify.
  static absl::StatusOr<Key> FromPrivateKeyPem(std::string_view pem, std::string kid = {});

  Algorithm algorithm() const { return algorithm_; }
  // The JWK "kid" this key answers to; "" when it has none.
  const std::string& kid() const { return kid_; }
  // True for HS256 secrets and private keys: the key can create signatures.
  bool can_sign() const { return can_sign_; }

  // For the signing code in this library: the HS256 secret ("" for RSA/EC keys) and the OpenSSL key
  // (nullptr for HS256).
  const std::string& secret() const { return secret_; }
  evp_pkey_st* evp_pkey() const { return pkey_.get(); }

  // Wraps an OpenSSL key (takes ownership) after checking its type as FromPublicKeyPem does.
  static absl::StatusOr<Key> FromEvpPkey(evp_pkey_st* pkey, bool is_private, std::string kid);

 private:
  Key() = default;

  Algorithm algorithm_ = Algorithm::kHS256;
  std::string kid_;
  bool can_sign_ = false;
  std::string secret_;
  std::shared_ptr<evp_pkey_st> pkey_;
};

// Parses a JWK Set (RFC 7517) and returns its signature keys: kty "RSA" (n, e) as RS256 keys and kty
// "EC" with crv "P-256" (x, y) as ES256 keys, each with its "kid". Keys meant for something else
// ("use" other than "sig", an "alg" other than the one matching their type, other key types or
// curves) are skipped, since identity providers publish encryption keys in the same set. Invalid
// JSON, a malformed usable key, or a set with no usable key is InvalidArgument.
absl::StatusOr<std::vector<Key>> ParseJwks(std::string_view json);
// Same, read from a file (NotFound if it cannot be read).
absl::StatusOr<std::vector<Key>> LoadJwksFile(const std::string& path);

// Reads a whole file; NotFound naming the path if it cannot be opened.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace sb::auth
