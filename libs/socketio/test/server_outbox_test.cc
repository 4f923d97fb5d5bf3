#include <catch2/catch.hpp>

#include "sb/socketio/engineio.h"
#include "sb/socketio/server/outbox.h"

using sb::socketio::eio::Packet;
using sb::socketio::eio::PacketType;
using sb::socketio::server::Outbox;

TEST_CASE("Outbox drains into one polling payload in order, binary as base64") {
  Outbox outbox(1 << 20);
  REQUIRE(outbox.Push(Packet::Text(PacketType::kPing)));
  REQUIRE(outbox.Push(Packet::Message("2[\"a\"]")));
  REQUIRE(outbox.Push(Packet::BinaryMessage(std::string("\x01\x02", 2))));
  CHECK(outbox.size() == 3);
  const std::string payload = outbox.TakePollingPayload();
  CHECK(payload == "2\x1e" "42[\"a\"]\x1e" "bAQI=");
  CHECK(outbox.empty());
  CHECK(outbox.bytes() == 0);
  CHECK(outbox.TakePollingPayload().empty());
  // The payload decodes back to the same packets.
  auto decoded = sb::socketio::eio::DecodePayload(payload);
  REQUIRE(decoded.ok());
  REQUIRE(decoded->size() == 3);
  CHECK((*decoded)[2] == Packet::BinaryMessage(std::string("\x01\x02", 2)));
}

TEST_CASE("Outbox refuses pushes beyond its byte bound but always takes one packet") {
  Outbox outbox(100);
  REQUIRE(outbox.Push(Packet::Message(std::string(500, 'x'))));  // first packet: accepted
  CHECK_FALSE(outbox.Push(Packet::Message("small")));            // over the bound now
  CHECK(outbox.size() == 1);
  Packet popped = outbox.Pop();
  CHECK(popped.data.size() == 500);
  CHECK(outbox.bytes() == 0);
  int accepted = 0;
  while (outbox.Push(Packet::Message("0123456789"))) ++accepted;
  // 10 bytes of data plus overhead per packet: a handful fit in 100 bytes, not unbounded.
  CHECK(accepted >= 2);
  CHECK(accepted <= 10);
  CHECK(outbox.bytes() <= 100);
}
