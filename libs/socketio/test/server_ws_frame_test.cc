#include "sb/socketio/server/ws_frame.h"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

namespace ws = sb::socketio::server::ws;

namespace {

// A client frame: masked with `mask`, optional FIN/RSV overrides, explicit length encoding.
std::string ClientFrame(uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true,
                        uint8_t rsv = 0, int force_len_bytes = -1) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const size_t n = payload.size();
  int len_bytes = force_len_bytes >= 0 ? force_len_bytes : (n < 126 ? 0 : n <= 0xFFFF ? 2 : 8);
  if (len_bytes == 0) {
    f.push_back(static_cast<char>(mask_bit | n));
  } else if (len_bytes == 2) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(mask, 4);
  for (size_t i = 0; i < n; ++i) f.push_back(masked ? static_cast<char>(payload[i] ^ mask[i & 3]) : payload[i]);
  return f;
}

}  // namespace

TEST_CASE("ws accept key matches RFC 6455 example") {
  CHECK(ws::AcceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("ws utf8 validation") {
  CHECK(ws::IsValidUtf8(""));
  CHECK(ws::IsValidUtf8("plain ascii text that is longer than eight bytes"));
  CHECK(ws::IsValidUtf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(ws::IsValidUtf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(ws::IsValidUtf8("\xE0\x80\xAF"));      // overlong 3-byte
  CHECK_FALSE(ws::IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(ws::IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  CHECK_FALSE(ws::IsValidUtf8("abc\xE2\x82"));       // truncated
  CHECK_FALSE(ws::IsValidUtf8("\x80"));              // stray continuation
}

TEST_CASE("ws server frame headers use minimal lengths") {
  char h[10];
  CHECK(ws::EncodeHeader(ws::Opcode::kText, 5, h) == 2);
  CHECK(static_cast<unsigned char>(h[0]) == 0x81);
  CHECK(h[1] == 5);
  CHECK(ws::EncodeHeader(ws::Opcode::kBinary, 126, h) == 4);
  CHECK(static_cast<unsigned char>(h[1]) == 126);
  CHECK(ws::EncodeHeader(ws::Opcode::kText, 70000, h) == 10);
  CHECK(static_cast<unsigned char>(h[1]) == 127);
  CHECK(ws::EncodeClose(1000) == std::string("\x88\x02\x03\xE8", 4));
}

TEST_CASE("ws reader delivers unmasked messages, byte by byte too") {
  std::string wire = ClientFrame(1, "4hello") + ClientFrame(2, std::string("\x00\x01\x02", 3)) +
                     ClientFrame(9, "p") + ClientFrame(1, std::string(300, 'x'));
  for (size_t step : {wire.size(), size_t{1}, size_t{7}}) {
    ws::Reader reader(1000);
    std::vector<ws::Event> events;
    for (size_t i = 0; i < wire.size(); i += step) {
      REQUIRE_FALSE(reader.Feed(std::string_view(wire).substr(i, step), events));
    }
    REQUIRE(events.size() == 4);
    CHECK(events[0].opcode == ws::Opcode::kText);
    CHECK(events[0].payload == "4hello");
    CHECK(events[1].opcode == ws::Opcode::kBinary);
    CHECK(events[1].payload == std::string("\x00\x01\x02", 3));
    CHECK(events[2].opcode == ws::Opcode::kPing);
    CHECK(events[3].payload == std::string(300, 'x'));
    CHECK(reader.buffered() == 0);
  }
}

TEST_CASE("ws reader reassembles fragments with interleaved control frames") {
  ws::Reader reader(100);
  std::vector<ws::Event> events;
  std::string wire = ClientFrame(1, "4he", false) + ClientFrame(10, "") + ClientFrame(0, "ll", false) +
                     ClientFrame(0, "o", true);
  REQUIRE_FALSE(reader.Feed(wire, events));
  REQUIRE(events.size() == 2);
  CHECK(events[0].opcode == ws::Opcode::kPong);
  CHECK(events[1].opcode == ws::Opcode::kText);
  CHECK(events[1].payload == "4hello");
}

TEST_CASE("ws reader rejects protocol violations with the right close code") {
  struct Case {
    std::string wire;
    uint16_t code;
  };
  std::vector<Case> cases = {
      {ClientFrame(1, "x", true, false), ws::kCloseProtocolError},             // unmasked
      {ClientFrame(1, "x", true, true, 4), ws::kCloseProtocolError},           // RSV1 (no deflate)
      {ClientFrame(3, "x"), ws::kCloseProtocolError},                          // reserved opcode
      {ClientFrame(0, "x"), ws::kCloseProtocolError},                          // stray continuation
      {ClientFrame(1, "a", false) + ClientFrame(1, "b"), ws::kCloseProtocolError},  // new msg in fragmented
      {ClientFrame(9, "x", false), ws::kCloseProtocolError},                   // fragmented ping
      {ClientFrame(9, std::string(126, 'x')), ws::kCloseProtocolError},        // control > 125
      {ClientFrame(1, "abc", true, true, 0, 2), ws::kCloseProtocolError},      // non-minimal 16-bit
      {ClientFrame(1, std::string(200, 'a'), true, true, 0, 8), ws::kCloseProtocolError},  // non-minimal 64
      {ClientFrame(8, "x"), ws::kCloseProtocolError},                          // 1-byte close body
      {ClientFrame(8, std::string("\x03\xED", 2)), ws::kCloseProtocolError},   // close code 1005
      {ClientFrame(1, "\xC0\xAF"), ws::kCloseInvalidPayload},                  // bad UTF-8 text
      {ClientFrame(1, "\xE2\x82", false) + ClientFrame(0, "\x28"), ws::kCloseInvalidPayload},
      {ClientFrame(2, std::string(101, 'a')), ws::kCloseTooBig},
      {ClientFrame(2, std::string(60, 'a'), false) + ClientFrame(0, std::string(60, 'a')), ws::kCloseTooBig},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    ws::Reader reader(100);
    std::vector<ws::Event> events;
    auto violation = reader.Feed(cases[i].wire, events);
    REQUIRE(violation);
    CHECK(violation->code == cases[i].code);
    CHECK(reader.buffered() == 0);
    // Nothing more is parsed after a violation.
    CHECK_FALSE(reader.Feed(ClientFrame(1, "4ok"), events));
    for (const auto& e : events) CHECK(e.payload != "4ok");
  }
}

TEST_CASE("ws reader rejects an oversized frame from its header alone") {
  ws::Reader reader(1000);
  std::vector<ws::Event> events;
  // Header announcing 2^40 bytes, no payload: refused before any buffering.
  std::string header = "\x82\xFF";
  header += std::string("\x00\x00\x01\x00\x00\x00\x00\x00", 8);
  auto violation = reader.Feed(header, events);
  REQUIRE(violation);
  CHECK(violation->code == ws::kCloseTooBig);
  // A 64-bit length with the top bit set is a protocol error.
  ws::Reader reader2(1000);
  std::string bad = "\x82\xFF";
  bad += std::string("\x80\x00\x00\x00\x00\x00\x00\x00", 8);
  auto v2 = reader2.Feed(bad, events);
  REQUIRE(v2);
  CHECK(v2->code == ws::kCloseProtocolError);
}

TEST_CASE("ws reader stops after a close frame") {
  ws::Reader reader(100);
  std::vector<ws::Event> events;
  REQUIRE_FALSE(reader.Feed(ClientFrame(8, std::string("\x03\xE8" "bye", 5)) + ClientFrame(1, "4late"), events));
  REQUIRE(events.size() == 1);
  CHECK(events[0].opcode == ws::Opcode::kClose);
  CHECK(events[0].payload == std::string("\x03\xE8" "bye", 5));
}

TEST_CASE("ws reader survives random input") {
  std::mt19937 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    ws::Reader reader(512);
    std::vector<ws::Event> events;
    std::string junk(rng() % 600, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    size_t i = 0;
    while (i < junk.size()) {
      const size_t step = 1 + rng() % 64;
      if (reader.Feed(std::string_view(junk).substr(i, step), events)) break;
      i += step;
    }
    for (const auto& e : events) CHECK(e.payload.size() <= 512);
    CHECK(reader.buffered() <= 512 + 14);
  }
}
