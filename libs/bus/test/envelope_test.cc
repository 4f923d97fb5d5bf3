#include <catch2/catch.hpp>

#include <set>

#include "sb/bus/channels.h"
#include "sb/bus/envelope.h"

using namespace sb::bus;

TEST_CASE("channel and stream names follow DESIGN.md and keep ids as-is") {
  CHECK(*UserChannel("alice") == "sb:u:alice");
  CHECK(*RoomChannel("lobby") == "sb:r:lobby");
  CHECK(*PresenceChannel("alice") == "sb:p:alice");
  CHECK(*UserStreamKey("alice") == "sb:s:u:alice");
  const std::string odd("a:b {c}\0\xc3\xa9", 10);  // NUL and U+00E9 are fine
  CHECK(*UserChannel(odd) == "sb:u:" + odd);
  Event event = MakeEvent("x", "{}", "", "u:" + odd);
  auto decoded = DecodeEvent(event.SerializeAsString());
  REQUIRE(decoded.ok());
  CHECK(decoded->target() == "u:" + odd);
}

TEST_CASE("ids must be 1..128 bytes") {
  CHECK(UserChannel("").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(RoomChannel(std::string(129, 'x')).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(UserStreamKey(std::string(129, 'x')).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(PresenceChannel(std::string(128, 'x')).ok());
  // Not UTF-8: protobuf could not carry it in the envelope.
  CHECK(UserChannel("a\xff").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("IsValidUtf8 accepts well-formed UTF-8 only") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  CHECK_FALSE(IsValidUtf8("\xff"));
  CHECK_FALSE(IsValidUtf8("\xc3"));              // truncated
  CHECK_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  CHECK_FALSE(IsValidUtf8("\x80"));              // lone continuation
}

TEST_CASE("event ids are fresh 128-bit hex strings") {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewEventId();
    CHECK(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    ids.insert(id);
  }
  CHECK(ids.size() == 1000);
}

TEST_CASE("an offset appended as field 3 (as the publish script does) decodes into the event") {
  Event event = MakeEvent("message:new", R"({"text":"hi"})", "chat/test", "u:alice");
  const std::string offset = "1700000000000-12";
  std::string wire = event.SerializeAsString();
  wire += static_cast<char>(0x1A);
  wire += static_cast<char>(offset.size());
  wire += offset;
  auto decoded = DecodeEvent(wire);
  REQUIRE(decoded.ok());
  CHECK(decoded->offset() == offset);
  CHECK(decoded->id() == event.id());
  CHECK(decoded->name() == "message:new");
  CHECK(decoded->payload_json() == R"({"text":"hi"})");
  CHECK(decoded->target() == "u:alice");
  CHECK(decoded->version() == kEnvelopeVersion);
}

TEST_CASE("malformed or unknown-version envelopes are rejected") {
  CHECK(DecodeEvent("not a protobuf \xff\xff\xff").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(DecodeEvent("").ok());  // parses, but version 0
  Event future = MakeEvent("x", "{}", "", "u:a");
  future.set_version(2);
  CHECK_FALSE(DecodeEvent(future.SerializeAsString()).ok());
  Event nameless = MakeEvent("x", "{}", "", "u:a");
  nameless.clear_name();
  CHECK_FALSE(DecodeEvent(nameless.SerializeAsString()).ok());
}
