#include "sb/auth/keys.h"

#include <openssl/ecdsa.h>

#include <catch2/catch.hpp>

#include "sb/auth/base64url.h"
#include "sb/auth/mint.h"
#include "sb/auth/verifier.h"
#include "test_keys.h"

using namespace sb::auth;
using namespace sb::auth::testing;

namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

Claims ValidClaims() {
  Claims claims;
  claims.sub = "user-1";
  claims.exp = kNow + absl::Minutes(5);
  claims.iat = kNow;
  return claims;
}

// ES256 signature made directly with OpenSSL (DER), converted to JOSE r||s by the test.
std::string Es256TokenByHand(EVP_PKEY* key, const std::string& payload_json) {
  std::string input = Base64UrlEncode(R"({"alg":"ES256"})") + "." + Base64UrlEncode(payload_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1);
  REQUIRE(EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  std::string der(len, '\0');
  REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  REQUIRE(sig != nullptr);
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return input + "." + Base64UrlEncode(raw);
}

// Verifies a JOSE ES256 signature with OpenSSL directly, converting r||s to DER in the test.
bool Es256VerifyByHand(EVP_PKEY* key, const std::string& token) {
  size_t last_dot = token.rfind('.');
  std::string input = token.substr(0, last_dot);
  std::string raw = Base64UrlDecode(token.substr(last_dot + 1)).value();
  REQUIRE(raw.size() == 64);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  int rc = EVP_DigestVerify(ctx, der, der_len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return rc == 1;
}

}  // namespace

TEST_CASE("keys are pinned to the algorithm of their type", "[keys]") {
  PkeyPtr rsa = GenerateRsa();
  PkeyPtr ec = GenerateEc();
  CHECK(Key::FromPublicKeyPem(PublicPem(rsa.get())).value().algorithm() == Algorithm::kRS256);
  CHECK(Key::FromPublicKeyPem(PublicPem(ec.get())).value().algorithm() == Algorithm::kES256);
  CHECK(Key::Hs256(std::string(32, 'k')).value().algorithm() == Algorithm::kHS256);
  CHECK_FALSE(Key::FromPublicKeyPem(PublicPem(rsa.get())).value().can_sign());
  CHECK(Key::FromPrivateKeyPem(PrivatePem(rsa.get())).value().can_sign());
}

TEST_CASE("weak or unsupported keys are refused", "[keys]") {
  CHECK(Key::Hs256(std::string(31, 'k')).status().code() == absl::StatusCode::kInvalidArgument);
  PkeyPtr small_rsa = GenerateRsa(1024);
  CHECK(Key::FromPublicKeyPem(PublicPem(small_rsa.get())).status().code() == absl::StatusCode::kInvalidArgument);
  PkeyPtr p384 = GenerateEc("P-384");
  CHECK(Key::FromPublicKeyPem(PublicPem(p384.get())).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(Key::FromPublicKeyPem("not a pem").ok());
  CHECK_FALSE(Key::FromPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  CHECK(Key::FromPublicKeyPemFile("/nonexistent/key.pem").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("a public key cannot mint", "[keys][mint]") {
  PkeyPtr rsa = GenerateRsa();
  Key public_key = Key::FromPublicKeyPem(PublicPem(rsa.get())).value();
  CHECK(Mint(ValidClaims(), public_key).status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("ES256 signatures are JOSE r||s and interoperate with plain OpenSSL ECDSA", "[keys][es256]") {
  PkeyPtr ec = GenerateEc();
  Key private_key = Key::FromPrivateKeyPem(PrivatePem(ec.get())).value();
  Verifier verifier = Verifier::Create({Key::FromPublicKeyPem(PublicPem(ec.get())).value()}, {}).value();

  // Our signature, checked by OpenSSL with a DER conversion written independently in the test.
  std::string minted = Mint(ValidClaims(), private_key).value();
  CHECK(Es256VerifyByHand(ec.get(), minted));

  // A signature made by OpenSSL and converted by the test, checked by our verifier.
  std::string by_hand = Es256TokenByHand(ec.get(), R"({"sub":"u","exp":1700000300})");
  CHECK(verifier.VerifyAt(by_hand, kNow).ok());

  // A DER signature in place of r||s is not a JOSE signature.
  std::string der_token = by_hand.substr(0, by_hand.rfind('.') + 1) + Base64UrlEncode(std::string(70, '\x30'));
  CHECK(RefusalReason(verifier.VerifyAt(der_token, kNow).status()) == Reason::kBadSignature);
}

TEST_CASE("JWKS: RSA and EC keys are read with their kid, other keys skipped", "[keys][jwks]") {
  PkeyPtr rsa = GenerateRsa();
  PkeyPtr ec = GenerateEc();
  std::string jwks = R"({"keys":[)" + RsaJwk(rsa.get(), "r1") + "," + EcJwk(ec.get(), "e1") +
                     R"(,{"kty":"RSA","use":"enc","kid":"enc1","n":"AQAB","e":"AQAB"})"
                     R"(,{"kty":"oct","kid":"sym","k":"c2VjcmV0"})"
                     R"(,{"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"}]})";
  auto keys = ParseJwks(jwks);
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 2);
  CHECK((*keys)[0].kid() == "r1");
  CHECK((*keys)[0].algorithm() == Algorithm::kRS256);
  CHECK((*keys)[1].kid() == "e1");
  CHECK((*keys)[1].algorithm() == Algorithm::kES256);
}

TEST_CASE("JWKS: invalid documents and keys are errors", "[keys][jwks]") {
  CHECK(ParseJwks("not json").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseJwks(R"({"keys":{}})").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseJwks(R"({"keys":[]})").status().code() == absl::StatusCode::kInvalidArgument);
  // An EC "key" whose point is not on the curve.
  std::string off_curve = R"({"keys":[{"kty":"EC","crv":"P-256","kid":"bad","x":")" +
                          Base64UrlEncode(std::string(32, '\x01')) + R"(","y":")" +
                          Base64UrlEncode(std::string(32, '\x02')) + R"("}]})";
  CHECK(ParseJwks(off_curve).status().code() == absl::StatusCode::kInvalidArgument);
  // RSA with a padded (non-base64url) modulus.
  CHECK_FALSE(ParseJwks(R"({"keys":[{"kty":"RSA","kid":"x","n":"AQAB==","e":"AQAB"}]})").ok());
  CHECK(LoadJwksFile("/nonexistent/jwks.json").status().code() == absl::StatusCode::kNotFound);
}
