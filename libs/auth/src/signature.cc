#include "signature.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

#include "absl/status/status.h"

namespace sb::auth::internal {
namespace {

constexpr size_t kEs256CoordinateBytes = 32;

struct MdCtxFree { void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); } };
struct EcdsaSigFree { void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); } };
struct BnFree { void operator()(BIGNUM* bn) const { BN_free(bn); } };

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string HmacSha256(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), Bytes(data), data.size(), mac,
           &mac_len) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<char*>(mac), mac_len);
}

// ECDSA in OpenSSL speaks DER (SEQUENCE of two INTEGERs); JOSE uses fixed-width r||s (RFC 7518 §3.4).
std::string DerToJoseEcdsa(std::string_view der) {
  const unsigned char* p = Bytes(der);
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return {};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * kEs256CoordinateBytes, '\0');
  auto* buffer = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, buffer, kEs256CoordinateBytes) < 0 ||
      BN_bn2binpad(s, buffer + kEs256CoordinateBytes, kEs256CoordinateBytes) < 0) {
    return {};
  }
  return out;
}

std::string JoseToDerEcdsa(std::string_view jose) {
  if (jose.size() != 2 * kEs256CoordinateBytes) return {};
  std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(Bytes(jose), kEs256CoordinateBytes, nullptr));
  std::unique_ptr<BIGNUM, BnFree> s(BN_bin2bn(Bytes(jose) + kEs256CoordinateBytes, kEs256CoordinateBytes, nullptr));
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  r.release();  // owned by sig now
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return {};
  return der;
}

}  // namespace

absl::StatusOr<std::string> Sign(const Key& key, std::string_view signing_input) {
  if (!key.can_sign()) {
    return absl::FailedPreconditionError("key cannot sign: a private key or HS256 secret is needed");
  }
  if (key.algorithm() == Algorithm::kHS256) {
    std::string mac = HmacSha256(key.secret(), signing_input);
    if (mac.empty()) return absl::InternalError("HMAC-SHA256 failed");
    return mac;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.evp_pkey()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len, Bytes(signing_input), signing_input.size()) != 1) {
    return absl::InternalError("OpenSSL signing setup failed");
  }
  std::string signature(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &sig_len, Bytes(signing_input),
                     signing_input.size()) != 1) {
    return absl::InternalError("OpenSSL signing failed");
  }
  signature.resize(sig_len);
  if (key.algorithm() == Algorithm::kES256) {
    signature = DerToJoseEcdsa(signature);
    if (signature.empty()) return absl::InternalError("could not convert ECDSA signature to JOSE form");
  }
  return signature;
}

bool VerifySignature(const Key& key, std::string_view signing_input, std::string_view signature) {
  if (key.algorithm() == Algorithm::kHS256) {
    std::string expected = HmacSha256(key.secret(), signing_input);
    // Length is public (always 32 for a genuine token); the content comparison must not leak timing.
    return !expected.empty() && signature.size() == expected.size() &&
           CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
  }
  std::string der;
  if (key.algorithm() == Algorithm::kES256) {
    der = JoseToDerEcdsa(signature);
    if (der.empty()) return false;
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.evp_pkey()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(signing_input),
                          signing_input.size()) == 1;
}

}  // namespace sb::auth::internal
