#include "sb/auth/errors.h"

#include "absl/strings/cord.h"

namespace sb::auth {
namespace {

constexpr char kReasonPayloadUrl[] = "type.switchboard.dev/sb.auth.Reason";

constexpr Reason kAllReasons[] = {
    Reason::kMissingToken, Reason::kTooLarge,   Reason::kMalformed,   Reason::kAlgNotAllowed,
    Reason::kUnknownKey,   Reason::kBadSignature, Reason::kExpired,   Reason::kNotYetValid,
    Reason::kMissingExp,   Reason::kBadIssuer,  Reason::kBadAudience, Reason::kBadSubject,
};

}  // namespace

std::string_view ReasonCode(Reason reason) {
  switch (reason) {
    case Reason::kNone: return "";
    case Reason::kMissingToken: return "missing_token";
    case Reason::kTooLarge: return "too_large";
    case Reason::kMalformed: return "malformed";
    case Reason::kAlgNotAllowed: return "alg_not_allowed";
    case Reason::kUnknownKey: return "unknown_key";
    case Reason::kBadSignature: return "bad_signature";
    case Reason::kExpired: return "expired";
    case Reason::kNotYetValid: return "not_yet_valid";
    case Reason::kMissingExp: return "missing_exp";
    case Reason::kBadIssuer: return "bad_issuer";
    case Reason::kBadAudience: return "bad_audience";
    case Reason::kBadSubject: return "bad_subject";
  }
  return "";
}

absl::Status AuthError(Reason reason, std::string message) {
  absl::Status status(absl::StatusCode::kUnauthenticated, message);
  status.SetPayload(kReasonPayloadUrl, absl::Cord(std::string(ReasonCode(reason))));
  return status;
}

Reason RefusalReason(const absl::Status& status) {
  if (status.ok()) return Reason::kNone;
  auto payload = status.GetPayload(kReasonPayloadUrl);
  if (!payload) return Reason::kNone;
  std::string code(*payload);
  for (Reason reason : kAllReasons) {
    if (ReasonCode(reason) == code) return reason;
  }
  return Reason::kNone;
}

}  // namespace sb::auth
