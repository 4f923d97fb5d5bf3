// Reply: a Redis reply as a plain value (RESP2 types). Never exposes hiredis types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sb::redis {

struct Reply {
  enum class Type { kNil, kInteger, kStatus, kError, kString, kArray };

  Type type = Type::kNil;
  int64_t integer = 0;          // kInteger
  std::string str;              // kStatus, kError, kString (binary safe)
  std::vector<Reply> elements;  // kArray

  static Reply Nil() { return Reply{}; }
  static Reply Integer(int64_t v) { Reply r; r.type = Type::kInteger; r.integer = v; return r; }
  static Reply Status(std::string s) { Reply r; r.type = Type::kStatus; r.str = std::move(s); return r; }
  static Reply Error(std::string s) { Reply r; r.type = Type::kError; r.str = std::move(s); return r; }
  static Reply String(std::string s) { Reply r; r.type = Type::kString; r.str = std::move(s); return r; }
  static Reply Array(std::vector<Reply> e) { Reply r; r.type = Type::kArray; r.elements = std::move(e); return r; }

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_integer() const { return type == Type::kInteger; }
  bool is_string() const { return type == Type::kString; }
  bool is_status() const { return type == Type::kStatus; }
  bool is_array() const { return type == Type::kArray; }

  // The reply as an integer; InvalidArgument if it is not one. (An error reply yields its status.)
  absl::StatusOr<int64_t> AsInteger() const;
  // The text of a string or status reply; InvalidArgument otherwise (error reply: its status).
  absl::StatusOr<std::string> AsString() const;

  friend bool operator==(const Reply&, const Reply&) = default;
};

// Maps a Redis error reply ("WRONGTYPE ...", "NOSCRIPT ...", "ERR ...") to a Status whose message
// is "redis: <reply text>". Codes: NOSCRIPT -> NotFound; NOAUTH -> Unauthenticated;
// WRONGPASS/NOPERM -> PermissionDenied; OOM -> ResourceExhausted; BUSY/LOADING/MASTERDOWN/TRYAGAIN/
// READONLY/CLUSTERDOWN -> Unavailable (transient); everything else (ERR, WRONGTYPE, script errors)
// -> FailedPrecondition (the server refused the command as given).
absl::Status ErrorReplyToStatus(absl::string_view message);

// A short human-readable rendering, for logs and test failure messages.
std::string DebugString(const Reply& reply);

}  // namespace sb::redis
