#include <catch2/catch.hpp>

#include "sb/socketio/server/heartbeat.h"

using sb::socketio::server::Heartbeat;
using namespace std::chrono_literals;

TEST_CASE("Heartbeat pings every interval and times out without a pong") {
  Heartbeat hb(300ms, 200ms);
  const auto t0 = Heartbeat::Clock::time_point{} + 1h;
  auto first = hb.Start(t0);
  CHECK(first == t0 + 300ms);
  CHECK_FALSE(hb.awaiting_pong());

  auto step = hb.OnDeadline(first);
  CHECK(step.action == Heartbeat::Action::kSendPing);
  CHECK(step.next_deadline == first + 200ms);
  CHECK(hb.awaiting_pong());

  SECTION("pong in time schedules the next ping one interval after the pong") {
    auto next = hb.OnPong(first + 50ms);
    CHECK(next == first + 50ms + 300ms);
    CHECK_FALSE(hb.awaiting_pong());
    CHECK(hb.OnDeadline(next).action == Heartbeat::Action::kSendPing);
  }
  SECTION("no pong: the next deadline is a timeout") {
    CHECK(hb.OnDeadline(step.next_deadline).action == Heartbeat::Action::kTimedOut);
  }
}
