#include <catch2/catch.hpp>

#include "services/gateway/chat_handlers.h"

using sb::gateway::ClientErrorFor;
using sb::gateway::IdFrom;

TEST_CASE("chat gRPC statuses map to client codes and HTTP statuses") {
  struct Case {
    grpc::StatusCode grpc;
    const char* code;
    int http;
  };
  const Case cases[] = {
      {grpc::StatusCode::INVALID_ARGUMENT, "invalid_argument", 422},
      {grpc::StatusCode::NOT_FOUND, "not_found", 404},
      {grpc::StatusCode::PERMISSION_DENIED, "forbidden", 403},
      {grpc::StatusCode::ALREADY_EXISTS, "conflict", 409},
      {grpc::StatusCode::FAILED_PRECONDITION, "conflict", 409},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "rate_limited", 429},
      {grpc::StatusCode::UNAVAILABLE, "unavailable", 503},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "unavailable", 503},
      {grpc::StatusCode::INTERNAL, "internal", 500},
  };
  for (const auto& c : cases) {
    auto e = ClientErrorFor(grpc::Status(c.grpc, "detail"));
    CHECK(e.code == c.code);
    CHECK(e.http_status == c.http);
  }
  // Client-facing messages: the chat service's explanation for client errors, nothing internal.
  CHECK(ClientErrorFor(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not a participant")).message ==
        "not a participant");
  CHECK(ClientErrorFor(grpc::Status(grpc::StatusCode::INTERNAL, "SQLSTATE 42P01 ...")).message == "internal error");
}

TEST_CASE("ids are accepted as positive JSON numbers or numeric strings") {
  boost::json::value n = 42, s = "42", neg = -1, zero = 0, text = "4x", big = "99999999999999999999", obj = boost::json::object{};
  CHECK(IdFrom(&n) == 42);
  CHECK(IdFrom(&s) == 42);
  CHECK_FALSE(IdFrom(&neg));
  CHECK_FALSE(IdFrom(&zero));
  CHECK_FALSE(IdFrom(&text));
  CHECK_FALSE(IdFrom(&big));
  CHECK_FALSE(IdFrom(&obj));
  CHECK_FALSE(IdFrom(nullptr));
}

TEST_CASE("conversation rooms: only names the gateway makes map back to an id") {
  using sb::gateway::ConversationIdOfRoom;
  CHECK(ConversationIdOfRoom("conversation:42") == 42);
  CHECK(ConversationIdOfRoom("conversation:9223372036854775807") == INT64_MAX);
  CHECK_FALSE(ConversationIdOfRoom("conversation:"));
  CHECK_FALSE(ConversationIdOfRoom("conversation:0"));
  CHECK_FALSE(ConversationIdOfRoom("conversation:-3"));
  CHECK_FALSE(ConversationIdOfRoom("conversation:007"));
  CHECK_FALSE(ConversationIdOfRoom("conversation:+7"));
  CHECK_FALSE(ConversationIdOfRoom("conversation:4x"));
  CHECK_FALSE(ConversationIdOfRoom("conversation:99999999999999999999"));
  CHECK_FALSE(ConversationIdOfRoom("public:conversation:42"));
  CHECK_FALSE(ConversationIdOfRoom("user:42"));
}
