#include <catch2/catch.hpp>

#include "sb/redis/reply.h"

using sb::redis::ErrorReplyToStatus;
using sb::redis::Reply;

TEST_CASE("error replies map to specific status codes and keep the message") {
  absl::Status s = ErrorReplyToStatus("WRONGTYPE Operation against a key holding the wrong kind of value");
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(s.message() == "redis: WRONGTYPE Operation against a key holding the wrong kind of value");
  CHECK(ErrorReplyToStatus("NOSCRIPT No matching script").code() == absl::StatusCode::kNotFound);
  CHECK(ErrorReplyToStatus("LOADING Redis is loading").code() == absl::StatusCode::kUnavailable);
  CHECK(ErrorReplyToStatus("NOAUTH Authentication required.").code() == absl::StatusCode::kUnauthenticated);
  CHECK(ErrorReplyToStatus("WRONGPASS invalid").code() == absl::StatusCode::kPermissionDenied);
  CHECK(ErrorReplyToStatus("OOM command not allowed").code() == absl::StatusCode::kResourceExhausted);
  CHECK(ErrorReplyToStatus("ERR syntax error").code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("Reply accessors check the type") {
  CHECK(*Reply::Integer(7).AsInteger() == 7);
  CHECK(*Reply::String("x").AsString() == "x");
  CHECK(*Reply::Status("OK").AsString() == "OK");
  CHECK(Reply::String("x").AsInteger().status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Reply::Nil().AsString().status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Reply::Error("NOSCRIPT x").AsString().status().code() == absl::StatusCode::kNotFound);
  CHECK(sb::redis::DebugString(Reply::Array({Reply::Integer(1), Reply::Nil()})) == "[(integer) 1, (nil)]");
}
