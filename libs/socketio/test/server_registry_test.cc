#include <catch2/catch.hpp>

#include <set>

#include "sb/socketio/server/session_registry.h"

using sb::socketio::server::GenerateId;
using sb::socketio::server::SessionRegistry;

TEST_CASE("GenerateId gives 20 URL-safe characters and does not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string id = GenerateId();
    REQUIRE(id.size() == 20);
    for (char c : id) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      REQUIRE(ok);
    }
    REQUIRE(seen.insert(id).second);
  }
}

TEST_CASE("SessionRegistry inserts, finds and erases only the matching entry") {
  SessionRegistry<int> registry;
  auto a = std::make_shared<int>(1);
  auto b = std::make_shared<int>(2);
  REQUIRE(registry.Insert("x", a));
  CHECK_FALSE(registry.Insert("x", b));  // id taken
  CHECK(registry.Find("x") == a);
  CHECK(registry.Find("y") == nullptr);
  CHECK_FALSE(registry.Erase("x", b.get()));  // stale close of another session
  CHECK(registry.size() == 1);
  CHECK(registry.Erase("x", a.get()));
  CHECK(registry.Find("x") == nullptr);
  CHECK(registry.size() == 0);
  REQUIRE(registry.Insert("p", a));
  REQUIRE(registry.Insert("q", b));
  CHECK(registry.Snapshot().size() == 2);
}
