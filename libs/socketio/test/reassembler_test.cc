#include <catch2/catch.hpp>

#include <string>

#include "sb/socketio/reassembler.h"

namespace eio = sb::socketio::eio;
namespace sio = sb::socketio::sio;

TEST_CASE("reassembler passes plain packets through") {
  sio::Reassembler r;
  auto p = r.AddText(R"(2["hello",1])");
  REQUIRE(p.ok());
  REQUIRE(p->has_value());
  CHECK(sio::EventName(**p) == "hello");
  CHECK_FALSE(r.awaiting_binary());
}

TEST_CASE("reassembler joins a binary event with its attachments") {
  sio::Reassembler r;
  auto header = r.AddText(R"(52-/up,3["file",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}])");
  REQUIRE(header.ok());
  CHECK_FALSE(header->has_value());
  CHECK(r.awaiting_binary());
  CHECK(r.missing_attachments() == 2);

  auto first = r.AddBinary("AAA");
  REQUIRE(first.ok());
  CHECK_FALSE(first->has_value());
  CHECK(r.missing_attachments() == 1);

  auto done = r.Add(eio::Packet::BinaryMessage(std::string("B\0B", 3)));
  REQUIRE(done.ok());
  REQUIRE(done->has_value());
  const sio::Packet& packet = **done;
  CHECK(packet.type == sio::PacketType::kBinaryEvent);
  CHECK(packet.nsp == "/up");
  CHECK(packet.id == std::optional<uint64_t>(3));
  REQUIRE(packet.attachments.size() == 2);
  auto args = sio::Args(packet);
  REQUIRE(args.size() == 2);
  CHECK(*sio::ResolvePlaceholder(packet, args[0]) == std::string("B\0B", 3));
  CHECK(*sio::ResolvePlaceholder(packet, args[1]) == "AAA");
  CHECK_FALSE(r.awaiting_binary());

  // And the stream continues normally afterwards.
  auto next = r.AddText(R"(2["next"])");
  REQUIRE(next.ok());
  CHECK(next->has_value());
}

TEST_CASE("reassembler completes binary packets with zero attachments at once") {
  sio::Reassembler r;
  auto p = r.AddText(R"(60-1["x"])");
  REQUIRE(p.ok());
  REQUIRE(p->has_value());
  CHECK((*p)->type == sio::PacketType::kBinaryAck);
}

TEST_CASE("reassembler errors on a text packet mid-reassembly and recovers") {
  sio::Reassembler r;
  REQUIRE(r.AddText(R"(52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])").ok());
  REQUIRE(r.AddBinary("x").ok());
  auto bad = r.AddText(R"(2["sneaky"])");
  CHECK(bad.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_FALSE(r.awaiting_binary());
  // The partial packet was dropped; the next message starts fresh.
  auto after = r.AddText(R"(2["after"])");
  REQUIRE(after.ok());
  CHECK(after->has_value());
}

TEST_CASE("reassembler errors on binary frames nobody announced") {
  sio::Reassembler r;
  CHECK(r.AddBinary("stray").status().code() == absl::StatusCode::kFailedPrecondition);
  // Too many buffers: one more than announced.
  REQUIRE(r.AddText(R"(51-["b",{"_placeholder":true,"num":0}])").ok());
  auto done = r.AddBinary("one");
  REQUIRE(done.ok());
  REQUIRE(done->has_value());
  CHECK(r.AddBinary("two").status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("reassembler enforces the attachment size limit") {
  sio::DecodeOptions options;
  options.max_attachment_bytes = 10;
  sio::Reassembler r(options);
  REQUIRE(r.AddText(R"(52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])").ok());
  REQUIRE(r.AddBinary(std::string(6, 'a')).ok());
  CHECK(r.AddBinary(std::string(5, 'b')).status().code() == absl::StatusCode::kResourceExhausted);
  CHECK_FALSE(r.awaiting_binary());

  // Exactly at the limit is fine.
  REQUIRE(r.AddText(R"(52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])").ok());
  REQUIRE(r.AddBinary(std::string(6, 'a')).ok());
  auto done = r.AddBinary(std::string(4, 'b'));
  REQUIRE(done.ok());
  CHECK(done->has_value());
}

TEST_CASE("reassembler rejects malformed headers and non-message packets") {
  sio::Reassembler r;
  CHECK(r.AddText(R"(5999999999-["x"])").status().code() == absl::StatusCode::kResourceExhausted);
  CHECK_FALSE(r.awaiting_binary());
  CHECK(r.AddText("2[1]").status().code() == absl::StatusCode::kInvalidArgument);

  REQUIRE(r.AddText(R"(51-["b",{"_placeholder":true,"num":0}])").ok());
  auto ping = r.Add(eio::Packet::Text(eio::PacketType::kPong));
  CHECK(ping.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(r.awaiting_binary());  // engine.io control packets do not disturb reassembly
  auto done = r.AddBinary("z");
  REQUIRE(done.ok());
  CHECK(done->has_value());
}
