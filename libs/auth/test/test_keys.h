// Key generation and raw token building for the auth tests (OpenSSL EVP APIs only).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "sb/auth/base64url.h"

namespace sb::auth::testing {

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline PkeyPtr GenerateRsa(size_t bits = 2048) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  if (!key) throw std::runtime_error("RSA keygen failed");
  return key;
}

inline PkeyPtr GenerateEc(const char* curve = "P-256") {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  if (!key) throw std::runtime_error("EC keygen failed");
  return key;
}

inline std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

inline std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  return BioContents(bio.get());
}

inline std::string PrivatePem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioContents(bio.get());
}

// A big-number key parameter as base64url of its big-endian bytes (padded to `width` if non-zero).
inline std::string BnParamB64(EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("missing key parameter");
  std::string bytes(width > 0 ? width : BN_num_bytes(bn), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  BN_free(bn);
  return Base64UrlEncode(bytes);
}

inline std::string RsaJwk(EVP_PKEY* key, const std::string& kid) {
  return R"({"kty":"RSA","use":"sig","alg":"RS256","kid":")" + kid + R"(","n":")" +
         BnParamB64(key, OSSL_PKEY_PARAM_RSA_N) + R"(","e":")" + BnParamB64(key, OSSL_PKEY_PARAM_RSA_E) + R"("})";
}

inline std::string EcJwk(EVP_PKEY* key, const std::string& kid) {
  return R"({"kty":"EC","crv":"P-256","kid":")" + kid + R"(","x":")" +
         BnParamB64(key, OSSL_PKEY_PARAM_EC_PUB_X, 32) + R"(","y":")" +
         BnParamB64(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32) + R"("})";
}

// "<b64(header)>.<b64(payload)>" with an HMAC-SHA256 signature made by the test itself.
inline std::string HmacToken(const std::string& header_json, const std::string& payload_json,
                             const std::string& secret) {
  std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  return input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), mac_len));
}

}  // namespace sb::auth::testing
