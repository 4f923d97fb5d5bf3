// RedisSendRateCounter: the moderation gate's send counting (moderation.h) kept in Redis, so that
// every sb-chat replica enforces one limit per user (in memory, N replicas would allow N times the
// rate). One Lua call per send (pipelined for a batch): prune the user's window, count, record or
// start a cooldown.
//
// Keys (expire on their own): sb:chat:rate:{user} (sorted set of send times, ms) and
// sb:chat:cooldown:{user} (cooldown end, ms). Times come from the caller's clock, so tests with a
// fixed clock behave as with the in-memory limiter.
#pragma once

#include <atomic>
#include <string>

#include "sb/redis/client.h"
#include "sb/redis/script.h"
#include "services/chat/moderation.h"

namespace sb::chat {

class RedisSendRateCounter : public SendRateCounter {
 public:
  // `redis` must outlive the counter. `instance_id` keeps the members of concurrent replicas apart.
  RedisSendRateCounter(redis::Client& redis, ModerationOptions options, std::string instance_id);

  // Unavailable (or another error) when Redis cannot answer; nothing is recorded then.
  absl::StatusOr<Verdict> Check(const std::string& user, absl::Time now) override;
  // One pipelined round trip for all.
  absl::StatusOr<std::vector<Verdict>> CheckMany(const std::vector<std::string>& users, absl::Time now) override;

 private:
  redis::Client& redis_;
  ModerationOptions options_;
  std::string instance_id_;
  std::atomic<uint64_t> sequence_{0};
  redis::Script script_;
};

}  // namespace sb::chat
