#include "sb/redis/reply.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sb::redis {

absl::StatusOr<int64_t> Reply::AsInteger() const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kError) return ErrorReplyToStatus(str);
  return absl::InvalidArgumentError(absl::StrCat("redis: expected an integer reply, got ", DebugString(*this)));
}

absl::StatusOr<std::string> Reply::AsString() const {
  if (type == Type::kString || type == Type::kStatus) return str;
  if (type == Type::kError) return ErrorReplyToStatus(str);
  return absl::InvalidArgumentError(absl::StrCat("redis: expected a string reply, got ", DebugString(*this)));
}

absl::Status ErrorReplyToStatus(absl::string_view message) {
  const std::string text = absl::StrCat("redis: ", message);
  // The error class is the first word of the reply, by Redis convention.
  absl::string_view kind = message.substr(0, message.find(' '));
  if (kind == "NOSCRIPT") return absl::NotFoundError(text);
  if (kind == "NOAUTH") return absl::UnauthenticatedError(text);
  if (kind == "WRONGPASS" || kind == "NOPERM") return absl::PermissionDeniedError(text);
  if (kind == "OOM") return absl::ResourceExhaustedError(text);
  if (kind == "BUSY" || kind == "LOADING" || kind == "MASTERDOWN" || kind == "TRYAGAIN" ||
      kind == "READONLY" || kind == "CLUSTERDOWN") {
    return absl::UnavailableError(text);
  }
  return absl::FailedPreconditionError(text);
}

std::string DebugString(const Reply& reply) {
  switch (reply.type) {
    case Reply::Type::kNil:
      return "(nil)";
    case Reply::Type::kInteger:
      return absl::StrCat("(integer) ", reply.integer);
    case Reply::Type::kStatus:
      return absl::StrCat("(status) ", reply.str);
    case Reply::Type::kError:
      return absl::StrCat("(error) ", reply.str);
    case Reply::Type::kString:
      return absl::StrCat("\"", reply.str, "\"");
    case Reply::Type::kArray:
      return absl::StrCat("[", absl::StrJoin(reply.elements, ", ", [](std::string* out, const Reply& r) {
                            out->append(DebugString(r));
                          }), "]");
  }
  return "?";
}

}  // namespace sb::redis
