#include "sb/auth/keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sb/auth/base64url.h"
#include "sb/common/log.h"

namespace sb::auth {
namespace {

constexpr size_t kMinHmacSecretBytes = 32;
constexpr int kMinRsaBits = 2048;

struct BioFree { void operator()(BIO* bio) const { BIO_free(bio); } };
struct PkeyFree { void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); } };
struct X509Free { void operator()(X509* cert) const { X509_free(cert); } };
struct BnFree { void operator()(BIGNUM* bn) const { BN_free(bn); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); } };
struct ParamFree { void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); } };

using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr MemoryBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Builds an RSA or EC public key from raw parameters (the JWK members, already decoded).
PkeyPtr PkeyFromParams(const char* key_type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, key_type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  PkeyPtr pkey(raw);
  // fromdata does not promise full validation of public values; reject points off the curve etc.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return pkey;
}

absl::StatusOr<std::string> JwkBytes(const boost::json::object& jwk, const char* member) {
  const boost::json::value* value = jwk.if_contains(member);
  if (value == nullptr || !value->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("JWK member \"", member, "\" is missing or not a string"));
  }
  std::optional<std::string> bytes = Base64UrlDecode(std::string_view(value->get_string()));
  if (!bytes || bytes->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("JWK member \"", member, "\" is not valid base64url"));
  }
  return *std::move(bytes);
}

absl::StatusOr<Key> RsaKeyFromJwk(const boost::json::object& jwk, std::string kid) {
  absl::StatusOr<std::string> n = JwkBytes(jwk, "n");
  if (!n.ok()) return n.status();
  absl::StatusOr<std::string> e = JwkBytes(jwk, "e");
  if (!e.ok()) return e.status();
  std::unique_ptr<BIGNUM, BnFree> n_bn(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> e_bn(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!n_bn || !e_bn || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
    return absl::InternalError("OpenSSL failed to build RSA parameters");
  }
  PkeyPtr pkey = PkeyFromParams("RSA", bld.get());
  if (!pkey) return absl::InvalidArgumentError("JWK RSA key is invalid");
  return Key::FromEvpPkey(pkey.release(), /*is_private=*/false, std::move(kid));
}

absl::StatusOr<Key> EcKeyFromJwk(const boost::json::object& jwk, std::string kid) {
  absl::StatusOr<std::string> x = JwkBytes(jwk, "x");
  if (!x.ok()) return x.status();
  absl::StatusOr<std::string> y = JwkBytes(jwk, "y");
  if (!y.ok()) return y.status();
  if (x->size() != 32 || y->size() != 32) {
    return absl::InvalidArgumentError("JWK P-256 coordinates must be 32 bytes each");
  }
  std::string point = "\x04" + *x + *y;  // SEC1 uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return absl::InternalError("OpenSSL failed to build EC parameters");
  }
  PkeyPtr pkey = PkeyFromParams("EC", bld.get());
  if (!pkey) return absl::InvalidArgumentError("JWK EC key is invalid (not a point on P-256)");
  return Key::FromEvpPkey(pkey.release(), /*is_private=*/false, std::move(kid));
}

std::string OptionalString(const boost::json::object& object, const char* member) {
  const boost::json::value* value = object.if_contains(member);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->get_string());
}

}  // namespace

std::string_view AlgorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kHS256: return "HS256";
    case Algorithm::kRS256: return "RS256";
    case Algorithm::kES256: return "ES256";
  }
  return "";
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read file ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat("cannot read file ", path));
  return contents.str();
}

absl::StatusOr<Key> Key::Hs256(std::string_view secret, std::string kid) {
  if (secret.size() < kMinHmacSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("HS256 secret must be at least ", kMinHmacSecretBytes, " bytes, got ", secret.size()));
  }
  Key key;
  key.algorithm_ = Algorithm::kHS256;
  key.kid_ = std::move(kid);
  key.can_sign_ = true;
  key.secret_ = std::string(secret);
  return key;
}

absl::StatusOr<Key> Key::FromEvpPkey(evp_pkey_st* raw_pkey, bool is_private, std::string kid) {
  PkeyPtr pkey(raw_pkey);
  if (!pkey) return absl::InvalidArgumentError("no key");
  Key key;
  if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
    int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < kMinRsaBits) {
      return absl::InvalidArgumentError(
          absl::StrCat("RSA key has ", bits, " bits; at least ", kMinRsaBits, " are required"));
    }
    key.algorithm_ = Algorithm::kRS256;
  } else if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    char group[64] = {};
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof(group), &group_len) != 1 ||
        std::string_view(group, group_len) != "prime256v1") {
      return absl::InvalidArgumentError(
          absl::StrCat("EC key is on curve \"", std::string(group, group_len), "\"; ES256 needs P-256"));
    }
    key.algorithm_ = Algorithm::kES256;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unsupported key type \"", EVP_PKEY_get0_type_name(pkey.get()),
                                                   "\"; expected RSA or EC P-256"));
  }
  key.kid_ = std::move(kid);
  key.can_sign_ = is_private;
  key.pkey_ = std::shared_ptr<EVP_PKEY>(pkey.release(), PkeyFree());
  return key;
}

absl::StatusOr<Key> Key::FromPublicKeyPem(std::string_view pem, std::string kid) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return absl::InternalError("OpenSSL could not allocate a BIO");
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) {
    // Identity providers often hand out certificates rather than bare keys.
    BioPtr cert_bio = MemoryBio(pem);
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    if (cert) pkey = X509_get_pubkey(cert.get());
  }
  if (pkey == nullptr) {
    return absl::InvalidArgumentError("not a PEM public key (\"PUBLIC KEY\") or certificate (\"CERTIFICATE\")");
  }
  return FromEvpPkey(pkey, /*is_private=*/false, std::move(kid));
}

absl::StatusOr<Key> Key::FromPublicKeyPemFile(const std::string& path, std::string kid) {
  absl::StatusOr<std::string> pem = ReadFileToString(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<Key> key = FromPublicKeyPem(*pem, std::move(kid));
  if (!key.ok()) return absl::Status(key.status().code(), absl::StrCat(path, ": ", key.status().message()));
  return key;
}

absl::StatusOr<Key> Key::FromPrivateKeyPem(std::string_view pem, std::string kid) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return absl::InternalError("OpenSSL could not allocate a BIO");
  // An empty passphrase callback result makes encrypted keys fail instead of prompting on a tty.
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (pkey == nullptr) return absl::InvalidArgumentError("not an unencrypted PEM private key");
  return FromEvpPkey(pkey, /*is_private=*/true, std::move(kid));
}

absl::StatusOr<std::vector<Key>> ParseJwks(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("JWKS is not valid JSON: ", ec.message()));
  const boost::json::value* keys = root.is_object() ? root.get_object().if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    return absl::InvalidArgumentError("JWKS must be an object with a \"keys\" array");
  }
  std::vector<Key> result;
  size_t index = 0;
  for (const boost::json::value& entry : keys->get_array()) {
    ++index;
    if (!entry.is_object()) return absl::InvalidArgumentError(absl::StrCat("JWKS key #", index, " is not an object"));
    const boost::json::object& jwk = entry.get_object();
    std::string kty = OptionalString(jwk, "kty");
    std::string use = OptionalString(jwk, "use");
    std::string alg = OptionalString(jwk, "alg");
    std::string crv = OptionalString(jwk, "crv");
    std::string kid = OptionalString(jwk, "kid");
    std::string expected_alg = kty == "RSA" ? "RS256" : (kty == "EC" && crv == "P-256") ? "ES256" : "";
    if (expected_alg.empty() || (!use.empty() && use != "sig") || (!alg.empty() && alg != expected_alg)) {
      sb::log::Debug("jwks: skipping key not usable for RS256/ES256 signatures",
                     {{"kid", kid}, {"kty", kty}, {"alg", alg}, {"use", use}});
      continue;
    }
    absl::StatusOr<Key> key = kty == "RSA" ? RsaKeyFromJwk(jwk, kid) : EcKeyFromJwk(jwk, kid);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("JWKS key #", index, " (kid \"", kid, "\"): ", key.status().message()));
    }
    result.push_back(*std::move(key));
  }
  if (result.empty()) return absl::InvalidArgumentError("JWKS contains no RS256 or ES256 signature key");
  return result;
}

absl::StatusOr<std::vector<Key>> LoadJwksFile(const std::string& path) {
  absl::StatusOr<std::string> json = ReadFileToString(path);
  if (!json.ok()) return json.status();
  absl::StatusOr<std::vector<Key>> keys = ParseJwks(*json);
  if (!keys.ok()) return absl::Status(keys.status().code(), absl::StrCat(path, ": ", keys.status().message()));
  return keys;
}

}  // namespace sb::auth
