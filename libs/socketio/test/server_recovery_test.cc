#include <catch2/catch.hpp>

#include "sb/socketio/server/recovery.h"

using namespace sb::socketio::server;
using namespace std::chrono_literals;

namespace {
struct FakeClock {
  InMemoryRecoveryStore::Clock::time_point now = InMemoryRecoveryStore::Clock::time_point{} + 1h;
};

StoredPacket Packet(std::string event, std::vector<std::string> rooms, std::vector<std::string> except = {}) {
  StoredPacket p;
  p.nsp = "/";
  p.event = std::move(event);
  p.args = {1};
  p.rooms = std::move(rooms);
  p.except = std::move(except);
  return p;
}

std::optional<RecoveredSession> Restore(RecoveryStore& store, const std::string& pid, const std::string& offset,
                                        const std::string& nsp = "/") {
  std::optional<RecoveredSession> out;
  bool called = false;
  store.Restore(nsp, pid, offset, [&](std::optional<RecoveredSession> r) {
    called = true;
    out = std::move(r);
  });
  REQUIRE(called);
  return out;
}
}  // namespace

TEST_CASE("StoredPacket::Matches applies rooms and except") {
  CHECK(Packet("e", {}).Matches({"s1"}));
  CHECK(Packet("e", {"r"}).Matches({"s1", "r"}));
  CHECK_FALSE(Packet("e", {"r"}).Matches({"s1"}));
  CHECK_FALSE(Packet("e", {}, {"s1"}).Matches({"s1", "r"}));
}

TEST_CASE("InMemoryRecoveryStore replays packets after the offset to the saved rooms") {
  FakeClock clock;
  InMemoryRecoveryStore store(10s, [&] { return clock.now; });
  auto o1 = store.Append(Packet("before", {}));
  REQUIRE(o1);
  store.Save(SessionState{"pid1", "sid1", "/", {"sid1", "room"}, boost::json::object{{"k", 1}}});
  auto o2 = store.Append(Packet("to-room", {"room"}));
  auto o3 = store.Append(Packet("other-room", {"elsewhere"}));
  auto o4 = store.Append(Packet("to-me", {"sid1"}));
  REQUIRE(o2);
  REQUIRE(o3);
  REQUIRE(o4);
  CHECK(*o1 != *o2);

  auto r = Restore(store, "pid1", *o1);
  REQUIRE(r);
  CHECK(r->state.sid == "sid1");
  CHECK(r->state.data.as_object().at("k").as_int64() == 1);
  REQUIRE(r->missed.size() == 2);
  CHECK(r->missed[0].event == "to-room");
  CHECK(r->missed[0].offset == *o2);
  CHECK(r->missed[1].event == "to-me");
  // A session is restored once.
  CHECK_FALSE(Restore(store, "pid1", *o1));
}

TEST_CASE("InMemoryRecoveryStore forgets sessions and packets after the window") {
  FakeClock clock;
  InMemoryRecoveryStore store(10s, [&] { return clock.now; });
  auto offset = store.Append(Packet("e", {}));
  store.Save(SessionState{"pid", "sid", "/", {"sid"}, nullptr});
  SECTION("unknown offset: not recovered") { CHECK_FALSE(Restore(store, "pid", "nope")); }
  SECTION("other namespace: not recovered") { CHECK_FALSE(Restore(store, "pid", *offset, "/other")); }
  SECTION("expired") {
    clock.now += 11s;
    CHECK_FALSE(Restore(store, "pid", *offset));
    CHECK(store.session_count() == 0);
    store.Append(Packet("later", {}));
    CHECK(store.packet_count() == 1);
  }
}

TEST_CASE("InMemoryRecoveryStore holds at most max_packets, dropping the oldest") {
  FakeClock clock;
  InMemoryRecoveryStore store(10s, [&] { return clock.now; }, 3);
  std::vector<std::string> offsets;
  for (int i = 0; i < 5; ++i) {
    auto o = store.Append(Packet("e" + std::to_string(i), {}));
    REQUIRE(o);
    offsets.push_back(*o);
    CHECK(store.packet_count() == static_cast<size_t>(std::min(i + 1, 3)));
  }
  store.Save(SessionState{"a", "sa", "/", {"sa"}, nullptr});
  store.Save(SessionState{"b", "sb", "/", {"sb"}, nullptr});
  SECTION("an offset that was dropped: not recovered") { CHECK_FALSE(Restore(store, "a", offsets[1])); }
  SECTION("an offset still held: the packets after it") {
    auto r = Restore(store, "b", offsets[2]);
    REQUIRE(r);
    REQUIRE(r->missed.size() == 2);
    CHECK(r->missed[0].event == "e3");
    CHECK(r->missed[1].event == "e4");
  }
}
