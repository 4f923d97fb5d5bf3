#include <catch2/catch.hpp>

#include <string>

#include "sb/socketio/base64.h"

using sb::socketio::Base64Decode;
using sb::socketio::Base64Encode;

TEST_CASE("base64 encodes RFC 4648 test vectors") {
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("foob") == "Zm9vYg==");
  CHECK(Base64Encode("fooba") == "Zm9vYmE=");
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  CHECK(Base64Encode(std::string("\x00\xff\xfe", 3)) == "AP/+");
}

TEST_CASE("base64 round-trips every byte value and length") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); len += 37) {
    const std::string bytes = all.substr(0, len);
    auto decoded = Base64Decode(Base64Encode(bytes));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
  }
}

TEST_CASE("base64 decode accepts unpadded input") {
  CHECK(Base64Decode("Zg") == std::optional<std::string>("f"));
  CHECK(Base64Decode("Zm8") == std::optional<std::string>("fo"));
  CHECK(Base64Decode("") == std::optional<std::string>(""));
}

TEST_CASE("base64 decode rejects malformed input") {
  CHECK_FALSE(Base64Decode("Z").has_value());         // length % 4 == 1
  CHECK_FALSE(Base64Decode("Zm9v!A==").has_value());  // outside the alphabet
  CHECK_FALSE(Base64Decode("Zm 9v").has_value());     // whitespace
  CHECK_FALSE(Base64Decode("Zm9v\n").has_value());
  CHECK_FALSE(Base64Decode("Z===").has_value());      // three padding characters
  CHECK_FALSE(Base64Decode("Zg=").has_value());       // padding that does not complete a group
  CHECK_FALSE(Base64Decode("Zg==Zg==").has_value());  // padding in the middle
  CHECK_FALSE(Base64Decode("Zh==").has_value());      // non-zero unused bits
  CHECK_FALSE(Base64Decode("Zm9=").has_value());
  CHECK_FALSE(Base64Decode("Zm9v-_").has_value());    // URL-safe alphabet is not used by engine.io
}
