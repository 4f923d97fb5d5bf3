// Engine.IO v4 heartbeat as the reference server runs it: the SERVER pings every pingInterval and
// expects the client's pong within pingTimeout; a session without a pong in time is closed with
// "ping timeout". Pure state machine (no timers, no I/O) so the schedule is unit-testable; the
// session drives it with one steady_timer.
#pragma once

#include <chrono>

namespace sb::socketio::server {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = std::chrono::milliseconds;

  enum class Action {
    kSendPing,  // send a PING now, then wait until next_deadline for the PONG
    kTimedOut,  // no PONG in time: close the session ("ping timeout")
  };
  struct Step {
    Action action;
    Clock::time_point next_deadline;  // meaningful for kSendPing
  };

  Heartbeat(Duration ping_interval, Duration ping_timeout)
      : interval_(ping_interval), timeout_(ping_timeout) {}

  // Session opened at `now`: the first ping is due one interval later. Returns that deadline.
  Clock::time_point Start(Clock::time_point now);

  // The timer fired at `now` (at or after the deadline returned last).
  Step OnDeadline(Clock::time_point now);

  // A PONG arrived at `now`: the next ping is due one interval later. Returns that deadline.
  Clock::time_point OnPong(Clock::time_point now);

  bool awaiting_pong() const { return awaiting_pong_; }

 private:
  Duration interval_;
  Duration timeout_;
  bool awaiting_pong_ = false;
};

}  // namespace sb::socketio::server
