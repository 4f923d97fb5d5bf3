#include "sb/common/utf8.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>

namespace {

std::string Encode(uint32_t cp) {
  std::string out;
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
  return out;
}

// Independent oracle for ONE sequence: decode naively by the lead byte's length bits, then accept
// only if re-encoding the value gives the same bytes (no overlong) and the value is a scalar value.
bool OracleSingle(const std::string& bytes) {
  if (bytes.empty()) return false;
  const auto lead = static_cast<unsigned char>(bytes[0]);
  size_t len = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 0;
  if (len == 0 || len != bytes.size()) return false;
  uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(bytes[k]);
    if ((c & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  return Encode(cp) == bytes;
}

}  // namespace

TEST_CASE("IsValidUtf8 boundary cases") {
  CHECK(sb::IsValidUtf8(""));
  CHECK(sb::IsValidUtf8("plain ascii text that is longer than eight bytes"));
  CHECK(sb::IsValidUtf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK(sb::IsValidUtf8(std::string("a\0b", 3)));       // NUL is a valid code point
  CHECK(sb::IsValidUtf8("\xF4\x8F\xBF\xBF"));           // U+10FFFF
  CHECK(sb::IsValidUtf8("\xED\x9F\xBF\xEE\x80\x80"));   // U+D7FF, U+E000 around the surrogates
  CHECK_FALSE(sb::IsValidUtf8("\xC0\xAF"));             // overlong '/'
  CHECK_FALSE(sb::IsValidUtf8("\xC1\xBF"));             // overlong 2-byte
  CHECK_FALSE(sb::IsValidUtf8("\xE0\x9F\xBF"));         // overlong 3-byte
  CHECK_FALSE(sb::IsValidUtf8("\xF0\x8F\xBF\xBF"));     // overlong 4-byte
  CHECK_FALSE(sb::IsValidUtf8("\xED\xA0\x80"));         // surrogate U+D800
  CHECK_FALSE(sb::IsValidUtf8("\xED\xBF\xBF"));         // surrogate U+DFFF
  CHECK_FALSE(sb::IsValidUtf8("\xF4\x90\x80\x80"));     // U+110000
  CHECK_FALSE(sb::IsValidUtf8("\xF5\x80\x80\x80"));     // lead beyond U+10FFFF
  CHECK_FALSE(sb::IsValidUtf8("\xFF"));
  CHECK_FALSE(sb::IsValidUtf8("\x80"));                 // stray continuation
  CHECK_FALSE(sb::IsValidUtf8("abc\xE2\x82"));          // truncated at the end
  CHECK_FALSE(sb::IsValidUtf8("\xE2\x82" "abcdefghij")); // truncated before ASCII
  CHECK_FALSE(sb::IsValidUtf8("abcdefgh\xC3"));         // after the 8-byte ASCII fast path
  CHECK_FALSE(sb::IsValidUtf8("abcdefghijklmno\x80"));
}

TEST_CASE("IsValidUtf8 agrees with a naive decoder on every 1-, 2- and 3-byte sequence") {
  size_t checked = 0;
  for (uint32_t a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    REQUIRE(sb::IsValidUtf8(one) == OracleSingle(one));
    for (uint32_t b = 0; b < 256; ++b) {
      std::string two{static_cast<char>(a), static_cast<char>(b)};
      // A pair of two single valid bytes is valid too.
      const bool two_expected = OracleSingle(two) || (a < 0x80 && b < 0x80);
      REQUIRE(sb::IsValidUtf8(two) == two_expected);
      if (a < 0xE0 || a > 0xEF) continue;  // 3-byte sequences: every E0..EF lead
      for (uint32_t c = 0; c < 256; ++c) {
        std::string three{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        REQUIRE(sb::IsValidUtf8(three) == OracleSingle(three));
        ++checked;
      }
    }
  }
  CHECK(checked == 16 * 256 * 256);
}

TEST_CASE("IsValidUtf8 accepts every scalar value and random 4-byte sequences like the oracle") {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (sb::IsValidUtf8(Encode(cp)) == surrogate) FAIL("code point " << cp);
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    std::string four{static_cast<char>(0xF0 + rng() % 8), static_cast<char>(0x80 + rng() % 0x40 - (rng() % 8 == 0 ? 0x40 : 0)),
                     static_cast<char>(0x80 + rng() % 0x40), static_cast<char>(0x80 + rng() % 0x40)};
    REQUIRE(sb::IsValidUtf8(four) == OracleSingle(four));
  }
}
