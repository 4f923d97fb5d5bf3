#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "sb/socketio/engineio.h"

namespace eio = sb::socketio::eio;
using eio::Packet;
using eio::PacketType;

TEST_CASE("engine.io text packets decode type and data") {
  auto p = eio::DecodeTextPacket("4hello");
  REQUIRE(p.ok());
  CHECK(p->type == PacketType::kMessage);
  CHECK(p->data == "hello");
  CHECK_FALSE(p->binary);

  auto probe = eio::DecodeTextPacket("2probe");
  REQUIRE(probe.ok());
  CHECK(probe->type == PacketType::kPing);
  CHECK(probe->data == "probe");

  for (char t = '0'; t <= '6'; ++t) {
    auto bare = eio::DecodeTextPacket(std::string(1, t));
    REQUIRE(bare.ok());
    CHECK(static_cast<int>(bare->type) == t - '0');
    CHECK(bare->data.empty());
  }
}

TEST_CASE("engine.io rejects empty and unknown packets") {
  CHECK(eio::DecodeTextPacket("").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(eio::DecodeTextPacket("7").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(eio::DecodeTextPacket("9x").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(eio::DecodeTextPacket("x").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(eio::DecodeTextPacket(std::string("\0", 1)).status().code() == absl::StatusCode::kInvalidArgument);
  auto unknown = eio::DecodeTextPacket("8");
  CHECK_THAT(std::string(unknown.status().message()), Catch::Contains("unknown packet type"));
}

TEST_CASE("engine.io websocket frames") {
  SECTION("text packet encodes as a text frame") {
    auto frame = eio::EncodeWebSocketFrame(Packet::Message("hello"));
    CHECK_FALSE(frame.binary);
    CHECK(frame.payload == "4hello");
    CHECK(eio::EncodeWebSocketFrame(Packet::Text(PacketType::kPong, "probe")).payload == "3probe");
    CHECK(eio::EncodeWebSocketFrame(Packet::Text(PacketType::kNoop)).payload == "6");
  }
  SECTION("binary message is a raw binary frame without type prefix") {
    const std::string bytes("\x01\x02\x00\xff", 4);
    auto frame = eio::EncodeWebSocketFrame(Packet::BinaryMessage(bytes));
    CHECK(frame.binary);
    CHECK(frame.payload == bytes);
    auto decoded = eio::DecodeWebSocketFrame(bytes, /*binary_frame=*/true);
    REQUIRE(decoded.ok());
    CHECK(*decoded == Packet::BinaryMessage(bytes));
  }
  SECTION("binary frame content is never interpreted as a type") {
    auto decoded = eio::DecodeWebSocketFrame("4hello", /*binary_frame=*/true);
    REQUIRE(decoded.ok());
    CHECK(decoded->binary);
    CHECK(decoded->data == "4hello");
  }
  SECTION("empty binary frame is an empty binary message; empty text frame is an error") {
    auto empty_binary = eio::DecodeWebSocketFrame("", true);
    REQUIRE(empty_binary.ok());
    CHECK(empty_binary->binary);
    CHECK(eio::DecodeWebSocketFrame("", false).status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("base64 text frame from a client without binary support") {
    auto decoded = eio::DecodeWebSocketFrame("bAQID", false);
    REQUIRE(decoded.ok());
    CHECK(*decoded == Packet::BinaryMessage(std::string("\x01\x02\x03", 3)));
  }
  SECTION("frames over maxPayload are refused") {
    const std::string big(101, 'a');
    CHECK(eio::DecodeWebSocketFrame("4" + std::string(99, 'a'), false, 100).ok());
    CHECK(eio::DecodeWebSocketFrame(big, false, 100).status().code() == absl::StatusCode::kResourceExhausted);
    CHECK(eio::DecodeWebSocketFrame(big, true, 100).status().code() == absl::StatusCode::kResourceExhausted);
  }
}

TEST_CASE("engine.io polling payload encoding") {
  const std::vector<Packet> packets = {Packet::Message("hello"), Packet::Text(PacketType::kPing),
                                       Packet::BinaryMessage(std::string("\x01\x02\x03\x04", 4)),
                                       Packet::Message("42[\"x\"]")};
  const std::string body = eio::EncodePayload(packets);
  CHECK(body == "4hello\x1e"
                "2\x1e"
                "bAQIDBA==\x1e"
                "442[\"x\"]");
  auto decoded = eio::DecodePayload(body);
  REQUIRE(decoded.ok());
  CHECK(*decoded == packets);

  CHECK(eio::EncodePayload({}) == "");
  CHECK(eio::EncodePayload({Packet::Text(PacketType::kNoop)}) == "6");
}

TEST_CASE("engine.io polling payload decoding is strict") {
  SECTION("single packet") {
    auto one = eio::DecodePayload("4hello");
    REQUIRE(one.ok());
    REQUIRE(one->size() == 1);
    CHECK((*one)[0] == Packet::Message("hello"));
  }
  SECTION("empty body") {
    CHECK(eio::DecodePayload("").status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("empty records") {
    CHECK_FALSE(eio::DecodePayload("4a\x1e\x1e"
                                   "4b").ok());
    CHECK_FALSE(eio::DecodePayload("4a\x1e").ok());
    CHECK_FALSE(eio::DecodePayload("\x1e"
                                   "4a").ok());
    CHECK_FALSE(eio::DecodePayload("\x1e").ok());
  }
  SECTION("bad base64 in a binary record names the record") {
    auto bad = eio::DecodePayload("4ok\x1e"
                                  "b****");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(bad.status().message()), Catch::Contains("base64"));
    CHECK_THAT(std::string(bad.status().message()), Catch::Contains("record 1"));
    CHECK_FALSE(eio::DecodePayload("bAQIDB").ok());  // length % 4 == 1
    CHECK_FALSE(eio::DecodePayload("bAQ=D").ok());
  }
  SECTION("unknown type in any record fails the whole payload") {
    CHECK_FALSE(eio::DecodePayload("4a\x1e"
                                   "9b").ok());
  }
  SECTION("payload over maxPayload is refused before decoding") {
    const std::string body = "4" + std::string(10, 'x');
    CHECK(eio::DecodePayload(body, body.size()).ok());
    auto over = eio::DecodePayload(body, body.size() - 1);
    CHECK(over.status().code() == absl::StatusCode::kResourceExhausted);
    // Even garbage over the limit reports the size, not the garbage.
    CHECK(eio::DecodePayload(std::string(50, '\x1e'), 10).status().code() ==
          absl::StatusCode::kResourceExhausted);
  }
  SECTION("binary base64 empty message") {
    auto empty = eio::DecodePayload("b");
    REQUIRE(empty.ok());
    CHECK((*empty)[0] == Packet::BinaryMessage(""));
  }
}

TEST_CASE("engine.io open packet JSON") {
  eio::OpenInfo info;
  info.sid = "lv_VI97HAXpY6yYWAAAC";
  info.upgrades = {"websocket"};
  CHECK(eio::EncodeOpenJson(info) ==
        R"({"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,)"
        R"("pingTimeout":20000,"maxPayload":1000000})");
  const Packet open = eio::MakeOpenPacket(info);
  CHECK(open.type == PacketType::kOpen);
  CHECK(eio::EncodeWebSocketFrame(open).payload.rfind("0{\"sid\":", 0) == 0);

  eio::OpenInfo ws;
  ws.sid = "a\"b";  // escaped, not spliced
  ws.ping_interval_ms = 300;
  ws.ping_timeout_ms = 200;
  ws.max_payload = 5;
  auto parsed = boost::json::parse(eio::EncodeOpenJson(ws)).as_object();
  CHECK(parsed.at("sid").as_string() == "a\"b");
  CHECK(parsed.at("upgrades").as_array().empty());
  CHECK(parsed.at("pingInterval").to_number<int64_t>() == 300);
  CHECK(parsed.at("pingTimeout").to_number<int64_t>() == 200);
  CHECK(parsed.at("maxPayload").to_number<int64_t>() == 5);
}
