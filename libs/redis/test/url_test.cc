#include <catch2/catch.hpp>

#include "sb/redis/url.h"

using sb::redis::ParseUrl;

TEST_CASE("ParseUrl reads host, port and database") {
  auto e = ParseUrl("redis://cache.internal:6380/3");
  REQUIRE(e.ok());
  CHECK(e->host == "cache.internal");
  CHECK(e->port == 6380);
  CHECK(e->db == 3);
  CHECK(e->password.empty());

  auto defaults = ParseUrl("redis://localhost");
  REQUIRE(defaults.ok());
  CHECK(defaults->port == 6379);
  CHECK(defaults->db == 0);

  auto v6 = ParseUrl("redis://[::1]:7000");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 7000);
}

TEST_CASE("ParseUrl reads (percent-encoded) credentials") {
  auto e = ParseUrl("redis://:s%40cr%3At@127.0.0.1:6379");
  REQUIRE(e.ok());
  CHECK(e->username.empty());
  CHECK(e->password == "s@cr:t");
  CHECK(e->host == "127.0.0.1");

  auto acl = ParseUrl("redis://app:pw@h:1/2");
  REQUIRE(acl.ok());
  CHECK(acl->username == "app");
  CHECK(acl->password == "pw");
  CHECK(acl->db == 2);
}

TEST_CASE("ParseUrl rejects malformed URLs") {
  CHECK(ParseUrl("http://h:1").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseUrl("redis://").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseUrl("redis://h:0").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseUrl("redis://h:70000").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseUrl("redis://h:abc").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseUrl("redis://h:1/x").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseUrl("redis://:%4@h").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseUrl("rediss://h:1").status().code() == absl::StatusCode::kUnimplemented);
}
