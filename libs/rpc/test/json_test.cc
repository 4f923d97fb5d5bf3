// sb::rpc::ProtoToJson must print what protobuf's own MessageToJsonString prints (with
// always_print_primitive_fields), compared as parsed JSON, for every shape our protos use.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "sb/rpc/json.h"
#include "switchboard/chat/v1/chat.pb.h"
#include "switchboard/gateway/v1/gateway.pb.h"
#include "switchboard/notification/v1/notification.pb.h"

namespace {

using google::protobuf::util::TimeUtil;

boost::json::value Reference(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string text;
  REQUIRE(google::protobuf::util::MessageToJsonString(message, &text, options).ok());
  return boost::json::parse(text);
}

void CheckSame(const google::protobuf::Message& message) {
  const boost::json::value expected = Reference(message);
  const boost::json::value got = sb::rpc::ProtoToJson(message);
  INFO(message.GetTypeName() << "\n expected " << boost::json::serialize(expected) << "\n got      "
                             << boost::json::serialize(got));
  CHECK(got == expected);
  CHECK(boost::json::parse(sb::rpc::ProtoToJsonString(message)) == expected);
}

}  // namespace

TEST_CASE("chat messages and conversations print as protobuf's JSON does") {
  switchboard::chat::v1::Message m;
  CheckSame(m);  // all defaults, no timestamps, no moderation
  m.set_id(9007199254740993);  // beyond a double's exact range: must be a string
  m.set_conversation_id(42);
  m.set_seq(7);
  m.set_sender_id("alice");
  m.set_client_message_id("c-1");
  m.set_type("text");
  m.set_content("héllo \"quoted\" \\ \n\t \x01 😀");
  *m.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(1'795'000'000'123);
  CheckSame(m);
  *m.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(1'795'000'000'000);  // no fraction
  m.set_is_edited(true);
  *m.mutable_edited_at() = TimeUtil::NanosecondsToTimestamp(1'795'000'001'000'001'000);  // microseconds
  m.mutable_moderation()->set_links_stripped(true);
  m.mutable_moderation()->set_reason("cooldown");
  CheckSame(m);
  *m.mutable_edited_at() = TimeUtil::NanosecondsToTimestamp(-1'000'000'007);  // before 1970, nanoseconds
  CheckSame(m);
  *m.mutable_edited_at() = TimeUtil::SecondsToTimestamp(253402300799);  // 9999-12-31T23:59:59Z
  CheckSame(m);
  *m.mutable_edited_at() = TimeUtil::SecondsToTimestamp(951782400);  // 2000-02-29 (leap day)
  CheckSame(m);

  switchboard::chat::v1::Conversation c;
  c.set_id(5);
  c.set_type("group");
  c.set_unread_count(-3);
  for (const char* id : {"bob", "carol"}) {
    auto* p = c.add_participants();
    p->mutable_user()->set_id(id);
    p->set_role("member");
    *p->mutable_joined_at() = TimeUtil::MillisecondsToTimestamp(1'700'000'000'500);
  }
  *c.mutable_last_message() = m;
  CheckSame(c);

  switchboard::chat::v1::ListMessagesRequest list;  // proto3 optional: printed only when set
  list.set_user_id("u");
  CheckSame(list);
  list.set_before_seq(0);
  CheckSame(list);
}

TEST_CASE("maps, enums, oneofs and optional fields print as protobuf's JSON does") {
  switchboard::notification::v1::Notification n;
  n.set_id(-12);
  n.set_type("new_follower");
  (*n.mutable_data())["deepLink"] = "app://x";
  (*n.mutable_data())["b"] = "";
  n.add_actors()->set_id("a1");
  n.add_actors()->set_name("Bé");
  CheckSame(n);

  switchboard::notification::v1::UpdatePreferencesRequest prefs;
  prefs.set_user_id("u");
  CheckSame(prefs);  // optional fields unset
  prefs.set_push_enabled(false);
  prefs.set_time_zone("Europe/Paris");
  (*prefs.mutable_types())["new_message"] = false;
  (*prefs.mutable_types())["mention"] = true;
  CheckSame(prefs);

  const auto* outcome = switchboard::notification::v1::Outcome_descriptor();
  REQUIRE(outcome->value_count() > 1);
  switchboard::notification::v1::NotifyResponse response;
  response.GetReflection()->SetEnumValue(&response, response.GetDescriptor()->FindFieldByName("outcome"),
                                         outcome->value(1)->number());
  CheckSame(response);

  switchboard::gateway::v1::StatsResponse stats;
  (*stats.mutable_sockets_per_namespace())["/"] = 12;
  (*stats.mutable_refusals_by_reason())["origin"] = 9007199254740993;
  CheckSame(stats);

  switchboard::gateway::v1::PublishRequest publish;
  CheckSame(publish);  // no oneof member set
  publish.set_room("dashboard");
  publish.set_event("feed:update");
  CheckSame(publish);
  publish.mutable_users()->add_user_ids("u1");
  CheckSame(publish);
}
