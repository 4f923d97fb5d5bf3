#include <catch2/catch.hpp>

#include "services/gateway/gateway_service.h"

namespace pb = ::switchboard::gateway::v1;
using sb::gateway::ValidateEventName;
using sb::gateway::ValidatePublish;

namespace {
pb::PublishRequest ToUsers(std::vector<std::string> users, std::string event = "feed:update",
                           std::string payload = R"({"n":1})") {
  pb::PublishRequest r;
  r.mutable_users();  // the target is set even when the list is empty
  for (auto& u : users) r.mutable_users()->add_user_ids(u);
  r.set_event(std::move(event));
  r.set_payload_json(std::move(payload));
  return r;
}
std::string Message(const absl::Status& s) { return std::string(s.message()); }
}  // namespace

TEST_CASE("a well-formed request passes") {
  CHECK(ValidatePublish(ToUsers({"alice", "bob"})).ok());
  pb::PublishRequest room;
  room.set_room("public:lobby");
  room.set_event("x");
  room.set_payload_json("{}");
  CHECK(ValidatePublish(room).ok());
  room.set_payload_json("[1,2]");
  CHECK(ValidatePublish(room).ok());
  // User events carry an offset after the payload, so any JSON value is fine there.
  CHECK(ValidatePublish(ToUsers({"alice"}, "x", "null")).ok());
  CHECK(ValidatePublish(ToUsers({"alice"}, "x", R"("text")")).ok());
}

TEST_CASE("a room payload must be a JSON object or array (a bare string would be taken for an offset)") {
  pb::PublishRequest room;
  room.set_room("public:lobby");
  room.set_event("x");
  for (const char* payload : {R"("1700000000000-0")", "null", "42", "true"}) {
    room.set_payload_json(payload);
    absl::Status s = ValidatePublish(room);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(s), Catch::Contains("object or array"));
  }
}

TEST_CASE("target is required and users are bounded") {
  pb::PublishRequest none;
  none.set_event("x");
  none.set_payload_json("{}");
  auto s = ValidatePublish(none);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(s), Catch::Contains("target"));

  CHECK_THAT(Message(ValidatePublish(ToUsers({}))), Catch::Contains("at least one"));
  std::vector<std::string> many(10'001, "u");
  CHECK_THAT(Message(ValidatePublish(ToUsers(many))), Catch::Contains("at most 10000"));
  many.resize(10'000);
  CHECK(ValidatePublish(ToUsers(many)).ok());
  auto bad_id = ValidatePublish(ToUsers({"ok", std::string(129, 'x')}));
  CHECK(bad_id.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(bad_id), Catch::Contains("user_ids[1]"));
  CHECK_THAT(Message(ValidatePublish(ToUsers({""}))), Catch::Contains("user_ids[0]"));
}

TEST_CASE("event names: non-empty, at most 64 bytes, not reserved, not internal") {
  CHECK(ValidateEventName("message:new").ok());
  CHECK(ValidateEventName(std::string(64, 'e')).ok());
  CHECK_FALSE(ValidateEventName("").ok());
  CHECK_THAT(Message(ValidateEventName(std::string(65, 'e'))), Catch::Contains("at most 64"));
  for (const char* reserved : {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                               "removeListener", "auth:success", "auth:error"}) {
    CHECK_THAT(Message(ValidateEventName(reserved)), Catch::Contains("reserved"));
  }
  CHECK_THAT(Message(ValidateEventName("sb:control:disconnect")), Catch::Contains("internal"));
  CHECK_FALSE(ValidateEventName("bad\nname").ok());
  CHECK_FALSE(ValidateEventName("\xff\xfe").ok());
  CHECK_THAT(Message(ValidatePublish(ToUsers({"a"}, "disconnect"))), Catch::Contains("reserved"));
}

TEST_CASE("payload must be JSON") {
  CHECK(ValidatePublish(ToUsers({"a"}, "e", "[1,2]")).ok());
  CHECK(ValidatePublish(ToUsers({"a"}, "e", "\"text\"")).ok());
  auto s = ValidatePublish(ToUsers({"a"}, "e", "{not json"));
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(s), Catch::Contains("payload_json"));
  CHECK_FALSE(ValidatePublish(ToUsers({"a"}, "e", "")).ok());
}
