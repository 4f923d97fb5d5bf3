#include "sb/auth/verifier.h"

#include <cmath>
#include <optional>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sb/auth/base64url.h"
#include "sb/common/config.h"
#include "signature.h"

namespace sb::auth {
namespace {

constexpr size_t kMinTokenBytesLimit = 256;

std::optional<Algorithm> ParseAlgorithm(std::string_view name) {
  if (name == "HS256") return Algorithm::kHS256;
  if (name == "RS256") return Algorithm::kRS256;
  if (name == "ES256") return Algorithm::kES256;
  return std::nullopt;
}

// Parses one decoded token part; only a JSON object is acceptable.
std::optional<boost::json::object> ParseObject(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

// A NumericDate claim (RFC 7519 §2): absent -> nullopt; present but not a finite number -> error.
absl::Status ReadTime(const boost::json::object& payload, const char* name, std::optional<absl::Time>* out) {
  const boost::json::value* value = payload.if_contains(name);
  if (value == nullptr) return absl::OkStatus();
  if (value->is_int64()) {
    *out = absl::FromUnixSeconds(value->get_int64());
  } else if (value->is_uint64()) {
    *out = absl::UnixEpoch() + absl::Seconds(static_cast<double>(value->get_uint64()));
  } else if (value->is_double() && std::isfinite(value->get_double())) {
    *out = absl::UnixEpoch() + absl::Seconds(value->get_double());
  } else {
    return AuthError(Reason::kMalformed, absl::StrCat("claim \"", name, "\" is not a number"));
  }
  return absl::OkStatus();
}

// An optional string claim: absent or null -> "", otherwise it must be a string.
absl::Status ReadString(const boost::json::object& payload, const char* name, std::string* out) {
  const boost::json::value* value = payload.if_contains(name);
  if (value == nullptr || value->is_null()) return absl::OkStatus();
  if (!value->is_string()) return AuthError(Reason::kMalformed, absl::StrCat("claim \"", name, "\" is not a string"));
  *out = std::string(value->get_string());
  return absl::OkStatus();
}

absl::Status ReadRoles(const boost::json::object& payload, std::vector<std::string>* out) {
  const boost::json::value* value = payload.if_contains("roles");
  if (value == nullptr || value->is_null()) return absl::OkStatus();
  if (!value->is_array()) return AuthError(Reason::kMalformed, "claim \"roles\" is not an array of strings");
  for (const boost::json::value& role : value->get_array()) {
    if (!role.is_string()) return AuthError(Reason::kMalformed, "claim \"roles\" is not an array of strings");
    out->emplace_back(role.get_string());
  }
  return absl::OkStatus();
}

bool AudienceAccepted(const boost::json::value* aud, const std::vector<std::string>& accepted) {
  auto is_accepted = [&](const boost::json::value& v) {
    if (!v.is_string()) return false;
    for (const std::string& a : accepted) {
      if (v.get_string() == a) return true;
    }
    return false;
  };
  if (aud == nullptr) return false;
  if (aud->is_string()) return is_accepted(*aud);
  if (aud->is_array()) {
    for (const boost::json::value& v : aud->get_array()) {
      if (is_accepted(v)) return true;
    }
  }
  return false;
}

}  // namespace

AuthOptions AuthOptionsFromEnv(sb::EnvConfig& env) {
  AuthOptions options;
  options.hs256_secret = env.String("SB_JWT_SECRET", "");
  options.public_key_files = env.List("SB_JWT_PUBLIC_KEYS", {});
  options.jwks_file = env.String("SB_JWT_JWKS_FILE", "");
  options.issuer = env.String("SB_JWT_ISSUER", "");
  options.audiences = env.List("SB_JWT_AUDIENCE", {});
  options.leeway = env.Duration("SB_JWT_LEEWAY", options.leeway);
  options.max_token_bytes = static_cast<size_t>(
      env.Int("SB_JWT_MAX_TOKEN_BYTES", static_cast<int64_t>(options.max_token_bytes), kMinTokenBytesLimit, 1 << 20));
  options.require_exp = env.Bool("SB_JWT_REQUIRE_EXP", options.require_exp);
  return options;
}

absl::StatusOr<Verifier> Verifier::FromOptions(const AuthOptions& options) {
  std::vector<Key> keys;
  if (!options.hs256_secret.empty()) {
    absl::StatusOr<Key> key = Key::Hs256(options.hs256_secret);
    if (!key.ok()) return key.status();
    keys.push_back(*std::move(key));
  }
  for (const std::string& entry : options.public_key_files) {
    std::string kid;
    std::string path = entry;
    if (size_t eq = entry.find('='); eq != std::string::npos) {
      kid = entry.substr(0, eq);
      path = entry.substr(eq + 1);
    }
    absl::StatusOr<Key> key = Key::FromPublicKeyPemFile(path, kid);
    if (!key.ok()) return key.status();
    keys.push_back(*std::move(key));
  }
  for (const std::string& pem : options.public_key_pems) {
    absl::StatusOr<Key> key = Key::FromPublicKeyPem(pem);
    if (!key.ok()) return key.status();
    keys.push_back(*std::move(key));
  }
  if (!options.jwks_file.empty()) {
    absl::StatusOr<std::vector<Key>> jwks = LoadJwksFile(options.jwks_file);
    if (!jwks.ok()) return jwks.status();
    for (Key& key : *jwks) keys.push_back(std::move(key));
  }
  return Create(std::move(keys), options);
}

absl::StatusOr<Verifier> Verifier::Create(std::vector<Key> keys, const AuthOptions& options) {
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "no JWT verification key configured: set an HS256 secret, PEM public keys or a JWKS file");
  }
  if (options.leeway < absl::ZeroDuration()) return absl::InvalidArgumentError("JWT leeway must not be negative");
  if (options.max_token_bytes < kMinTokenBytesLimit) {
    return absl::InvalidArgumentError(absl::StrCat("JWT max token size must be at least ", kMinTokenBytesLimit));
  }
  return Verifier(std::move(keys), options);
}

Verifier::Verifier(std::vector<Key> keys, const AuthOptions& options)
    : keys_(std::move(keys)),
      issuer_(options.issuer),
      audiences_(options.audiences),
      leeway_(options.leeway),
      max_token_bytes_(options.max_token_bytes),
      require_exp_(options.require_exp) {}

absl::StatusOr<Claims> Verifier::Verify(std::string_view token) const { return VerifyAt(token, absl::Now()); }

absl::StatusOr<Claims> Verifier::VerifyAt(std::string_view token, absl::Time now) const {
  if (token.empty()) return AuthError(Reason::kMissingToken, "no token");
  // Size first: nothing below should ever see an arbitrarily large attacker-controlled input.
  if (token.size() > max_token_bytes_) {
    return AuthError(Reason::kTooLarge,
                     absl::StrCat("token too large (", token.size(), " bytes, limit ", max_token_bytes_, ")"));
  }

  size_t first_dot = token.find('.');
  size_t second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    return AuthError(Reason::kMalformed, "token is not three dot-separated parts");
  }
  std::string_view header_b64 = token.substr(0, first_dot);
  std::string_view payload_b64 = token.substr(first_dot + 1, second_dot - first_dot - 1);
  std::string_view signature_b64 = token.substr(second_dot + 1);
  std::optional<std::string> header_json = Base64UrlDecode(header_b64);
  std::optional<std::string> payload_json = Base64UrlDecode(payload_b64);
  std::optional<std::string> signature = Base64UrlDecode(signature_b64);
  if (!header_json || !payload_json || !signature) {
    return AuthError(Reason::kMalformed, "token is not valid base64url");
  }

  std::optional<boost::json::object> header = ParseObject(*header_json);
  if (!header) return AuthError(Reason::kMalformed, "token header is not a JSON object");
  const boost::json::value* alg_value = header->if_contains("alg");
  if (alg_value == nullptr || !alg_value->is_string()) {
    return AuthError(Reason::kMalformed, "token header has no \"alg\" string");
  }
  std::string alg_name(alg_value->get_string());
  if (absl::AsciiStrToLower(alg_name) == "none") {
    return AuthError(Reason::kAlgNotAllowed, "algorithm none is not allowed");
  }
  // We implement no JWS extensions, so any critical one makes the token unacceptable (RFC 7515 §4.1.11).
  if (header->contains("crit")) {
    return AuthError(Reason::kMalformed, "token header has unsupported critical extensions (\"crit\")");
  }
  std::optional<Algorithm> alg = ParseAlgorithm(alg_name);
  std::vector<const Key*> by_alg;
  if (alg) {
    for (const Key& key : keys_) {
      if (key.algorithm() == *alg) by_alg.push_back(&key);
    }
  }
  if (by_alg.empty()) {
    return AuthError(Reason::kAlgNotAllowed, absl::StrCat("algorithm ", alg_name, " is not accepted"));
  }

  // Pick the keys allowed to check this token. Only keys pinned to the header's algorithm are
  // candidates, so the token can never make a public key act as an HMAC secret.
  std::vector<const Key*> candidates;
  const boost::json::value* kid_value = header->if_contains("kid");
  if (kid_value != nullptr && !kid_value->is_string()) {
    return AuthError(Reason::kMalformed, "token header \"kid\" is not a string");
  }
  if (kid_value != nullptr) {
    std::string kid(kid_value->get_string());
    for (const Key* key : by_alg) {
      if (key->kid() == kid) candidates.push_back(key);
    }
    if (candidates.empty()) {
      for (const Key& key : keys_) {
        if (key.kid() == kid) {
          return AuthError(Reason::kAlgNotAllowed,
                           absl::StrCat("algorithm ", alg_name, " does not match key \"", kid, "\""));
        }
      }
      // Keys without a kid (PEM files, the HS256 secret) answer to any kid.
      for (const Key* key : by_alg) {
        if (key->kid().empty()) candidates.push_back(key);
      }
    }
    if (candidates.empty()) return AuthError(Reason::kUnknownKey, absl::StrCat("unknown key id \"", kid, "\""));
  } else {
    candidates = by_alg;
  }

  std::string_view signing_input = token.substr(0, second_dot);
  bool verified = false;
  for (const Key* key : candidates) {
    if (internal::VerifySignature(*key, signing_input, *signature)) {
      verified = true;
      break;
    }
  }
  if (!verified) return AuthError(Reason::kBadSignature, "signature mismatch");

  std::optional<boost::json::object> payload = ParseObject(*payload_json);
  if (!payload) return AuthError(Reason::kMalformed, "token payload is not a JSON object");

  Claims claims;
  std::optional<absl::Time> nbf;
  if (absl::Status s = ReadTime(*payload, "exp", &claims.exp); !s.ok()) return s;
  if (absl::Status s = ReadTime(*payload, "nbf", &nbf); !s.ok()) return s;
  if (absl::Status s = ReadTime(*payload, "iat", &claims.iat); !s.ok()) return s;
  if (absl::Status s = ReadString(*payload, "username", &claims.username); !s.ok()) return s;
  if (absl::Status s = ReadString(*payload, "name", &claims.name); !s.ok()) return s;
  if (absl::Status s = ReadString(*payload, "avatar", &claims.avatar); !s.ok()) return s;
  if (absl::Status s = ReadRoles(*payload, &claims.roles); !s.ok()) return s;

  if (!claims.exp) {
    if (require_exp_) return AuthError(Reason::kMissingExp, "token has no expiry (\"exp\")");
  } else if (now >= *claims.exp + leeway_) {
    return AuthError(Reason::kExpired, "token expired");
  }
  if (nbf && now + leeway_ < *nbf) return AuthError(Reason::kNotYetValid, "token not yet valid (\"nbf\")");
  if (claims.iat && *claims.iat > now + leeway_) {
    return AuthError(Reason::kNotYetValid, "token issued in the future (\"iat\")");
  }

  if (!issuer_.empty()) {
    const boost::json::value* iss = payload->if_contains("iss");
    if (iss == nullptr || !iss->is_string() || iss->get_string() != issuer_) {
      return AuthError(Reason::kBadIssuer, "issuer mismatch");
    }
  }
  if (!audiences_.empty() && !AudienceAccepted(payload->if_contains("aud"), audiences_)) {
    return AuthError(Reason::kBadAudience, "audience mismatch");
  }

  const boost::json::value* sub = payload->if_contains("sub");
  if (sub == nullptr || !sub->is_string() || sub->get_string().empty()) {
    return AuthError(Reason::kBadSubject, "token has no subject (\"sub\")");
  }
  if (sub->get_string().size() > kMaxSubjectBytes) {
    return AuthError(Reason::kBadSubject, absl::StrCat("subject (\"sub\") longer than ", kMaxSubjectBytes, " bytes"));
  }
  claims.sub = std::string(sub->get_string());
  claims.raw = *std::move(payload);
  return claims;
}

}  // namespace sb::auth
