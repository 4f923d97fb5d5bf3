#include "sb/socketio/server/heartbeat.h"

namespace sb::socketio::server {

Heartbeat::Clock::time_point Heartbeat::Start(Clock::time_point now) {
  awaiting_pong_ = false;
  return now + interval_;
}

Heartbeat::Step Heartbeat::OnDeadline(Clock::time_point now) {
  if (awaiting_pong_) return {Action::kTimedOut, now};
  awaiting_pong_ = true;
  return {Action::kSendPing, now + timeout_};
}

Heartbeat::Clock::time_point Heartbeat::OnPong(Clock::time_point now) {
  awaiting_pong_ = false;
  return now + interval_;
}

}  // namespace sb::socketio::server
