#include "sb/socketio/server/ws_frame.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
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

namespace {

// A valid client frame with a random mask; the length uses the minimal encoding (7-bit, 16-bit or
// 64-bit form depending on the size).
std::string RandomlyMaskedFrame(uint8_t opcode, std::string_view payload, bool fin, std::mt19937& rng) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  char mask[4];
  for (auto& m : mask) m = static_cast<char>(rng());
  f.append(mask, 4);
  for (size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return f;
}

// Random well-formed UTF-8 of about `bytes` bytes (1- to 4-byte sequences, no surrogates).
std::string RandomUtf8(size_t bytes, std::mt19937& rng) {
  std::string out;
  while (out.size() < bytes) {
    uint32_t cp;
    switch (rng() % 4) {
      case 0: cp = rng() % 0x80; break;
      case 1: cp = 0x80 + rng() % (0x800 - 0x80); break;
      case 2: cp = 0x800 + rng() % (0x10000 - 0x800); if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000; break;
      default: cp = 0x10000 + rng() % (0x110000 - 0x10000); break;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

size_t RandomLength(std::mt19937& rng) {
  switch (rng() % 20) {
    case 0: return 0x10000 + rng() % 3000;  // 64-bit length form
    case 1: case 2: case 3: case 4: return 126 + rng() % 2000;  // 16-bit length form
    default: return rng() % 126;  // 7-bit length form
  }
}

}  // namespace

// Streams of VALID client frames (text/binary messages, fragmented at random with continuation
// frames and pings in between, all three length forms, random masks), cut into random pieces, so
// that every parser state is reached. A third of the streams get one corrupted byte.
TEST_CASE("ws reader on random valid streams, with and without corruption") {
  // Large enough for the 64-bit length form (> 65535 bytes).
  constexpr size_t kMaxMessage = 1 << 17;
  // What Reader guarantees (see ws_frame.h): a fragmented message so far (<= max_message) plus one
  // incomplete frame: a data frame's header (<= 14) and payload, whose total with the message is
  // <= max_message, or a control frame (header <= 6, payload <= 125).
  constexpr size_t kBufferedBound = kMaxMessage + 14 + 125;
  std::mt19937 rng(20261123);
  int clean_rounds = 0, corrupted_rounds = 0, violations = 0;
  for (int round = 0; round < 600; ++round) {
    std::string stream;
    std::vector<ws::Event> expected;
    const int messages = 1 + static_cast<int>(rng() % 6);
    for (int m = 0; m < messages; ++m) {
      const bool text = rng() % 2 == 0;
      std::string payload;
      if (text) {
        payload = RandomUtf8(RandomLength(rng), rng);
        if (payload.size() > kMaxMessage) payload = RandomUtf8(100, rng);
      } else {
        payload.resize(RandomLength(rng));
        for (auto& c : payload) c = static_cast<char>(rng());
      }
      // Split into 1-4 fragments at random byte offsets (text may be split inside a character).
      std::vector<size_t> cuts{0, payload.size()};
      for (int k = static_cast<int>(rng() % 4); k > 0; --k) cuts.push_back(payload.empty() ? 0 : rng() % payload.size());
      std::sort(cuts.begin(), cuts.end());
      for (size_t f = 0; f + 1 < cuts.size(); ++f) {
        const bool last = f + 2 == cuts.size();
        const uint8_t opcode = f == 0 ? (text ? 1 : 2) : 0;
        stream += RandomlyMaskedFrame(opcode, std::string_view(payload).substr(cuts[f], cuts[f + 1] - cuts[f]), last, rng);
        if (!last && rng() % 3 == 0) {  // a ping between fragments
          std::string ping(rng() % 126, '\0');
          for (auto& c : ping) c = static_cast<char>(rng());
          stream += RandomlyMaskedFrame(9, ping, true, rng);
          expected.push_back({ws::Opcode::kPing, ping});
        }
      }
      expected.push_back({text ? ws::Opcode::kText : ws::Opcode::kBinary, payload});
    }
    const bool with_close = rng() % 4 == 0;
    if (with_close) {
      const std::string body = std::string("\x03\xE8", 2) + RandomUtf8(rng() % 40, rng);
      stream += RandomlyMaskedFrame(8, body, true, rng);
      expected.push_back({ws::Opcode::kClose, body});
      stream += RandomlyMaskedFrame(1, "after close", true, rng);  // must be ignored
    }
    const bool corrupt = rng() % 3 == 0;
    if (corrupt) stream[rng() % stream.size()] ^= static_cast<char>(1 + rng() % 255);

    ws::Reader reader(kMaxMessage);
    std::vector<ws::Event> events;
    std::optional<ws::Violation> violation;
    size_t i = 0;
    while (i < stream.size()) {
      const size_t step = 1 + rng() % (rng() % 2 ? 16 : 9000);
      const size_t before = events.size();
      auto v = reader.Feed(std::string_view(stream).substr(i, step), events);
      if (violation) {
        // After a violation nothing more is parsed or reported.
        REQUIRE_FALSE(v);
        REQUIRE(events.size() == before);
      } else if (v) {
        violation = v;
      }
      REQUIRE(reader.buffered() <= kBufferedBound);
      i += step;
    }
    for (const auto& e : events) REQUIRE(e.payload.size() <= kMaxMessage);
    if (!corrupt) {
      ++clean_rounds;
      REQUIRE_FALSE(violation);
      REQUIRE(events.size() == expected.size());
      for (size_t k = 0; k < events.size(); ++k) {
        CHECK(events[k].opcode == expected[k].opcode);
        CHECK(events[k].payload == expected[k].payload);
      }
      CHECK(reader.buffered() == 0);
    } else {
      ++corrupted_rounds;
      if (violation) ++violations;
    }
  }
  // The generator really exercised both kinds of streams.
  CHECK(clean_rounds > 300);
  CHECK(corrupted_rounds > 100);
  CHECK(violations > 0);
}

TEST_CASE("ws reader survives arbitrary bytes") {
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
      CHECK(reader.buffered() <= 512 + 14 + 125);
      i += step;
    }
    for (const auto& e : events) CHECK(e.payload.size() <= 512);
  }
}
