#include "sb/auth/base64url.h"

#include <catch2/catch.hpp>

using sb::auth::Base64UrlDecode;
using sb::auth::Base64UrlEncode;

TEST_CASE("base64url encodes RFC 4648 vectors without padding", "[base64url]") {
  CHECK(Base64UrlEncode("") == "");
  CHECK(Base64UrlEncode("f") == "Zg");
  CHECK(Base64UrlEncode("fo") == "Zm8");
  CHECK(Base64UrlEncode("foo") == "Zm9v");
  CHECK(Base64UrlEncode("foob") == "Zm9vYg");
  CHECK(Base64UrlEncode("fooba") == "Zm9vYmE");
  CHECK(Base64UrlEncode("foobar") == "Zm9vYmFy");
  CHECK(Base64UrlEncode("\xfb\xff\xbf") == "-_-_");  // the two url-safe characters
}

TEST_CASE("base64url round-trips every byte value at every tail length", "[base64url]") {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= bytes.size(); len += 1) {
    std::string part = bytes.substr(0, len);
    auto decoded = Base64UrlDecode(Base64UrlEncode(part));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == part);
  }
}

TEST_CASE("base64url decoding is strict", "[base64url]") {
  CHECK(Base64UrlDecode("Zm9vYg").value() == "foob");
  CHECK_FALSE(Base64UrlDecode("Zm9vYg==").has_value());  // padding
  CHECK_FALSE(Base64UrlDecode("Zm9v+g").has_value());    // standard alphabet
  CHECK_FALSE(Base64UrlDecode("Zm9v/g").has_value());
  CHECK_FALSE(Base64UrlDecode("Zm9v Yg").has_value());   // whitespace
  CHECK_FALSE(Base64UrlDecode("Zm9vY").has_value());     // impossible length
  CHECK_FALSE(Base64UrlDecode("Zh").has_value());        // non-zero trailing bits ("Zg" is canonical)
  CHECK_FALSE(Base64UrlDecode(std::string("Zm\0v", 4)).has_value());
}
