#include "services/chat/redis_rate_limiter.h"

#include "absl/strings/str_cat.h"
#include "sb/common/status.h"

namespace sb::chat {
namespace {

// KEYS: window set, cooldown key. ARGV: now ms, window ms, limit, cooldown ms, unique member.
// Returns 0 allowed, 1 allowed during a cooldown, 2 limited (a cooldown starts).
// Same rules as SendRateLimiter::Check: a send at exactly now - window has left the window.
constexpr char kCheckScript[] = R"lua(
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local cooldown = tonumber(ARGV[4])
local cooling = tonumber(redis.call('GET', KEYS[2]) or '0') > now
if limit <= 0 then
  if cooling then return 1 end
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  if cooldown > 0 then
    redis.call('SET', KEYS[2], now + cooldown, 'PX', cooldown)
  end
  return 2
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window)
if cooling then return 1 end
return 0
)lua";

}  // namespace

RedisSendRateCounter::RedisSendRateCounter(redis::Client& redis, ModerationOptions options, std::string instance_id)
    : redis_(redis), options_(options), instance_id_(std::move(instance_id)), script_(kCheckScript) {}

absl::StatusOr<SendRateCounter::Verdict> RedisSendRateCounter::Check(const std::string& user, absl::Time now) {
  SB_ASSIGN_OR_RETURN(std::vector<Verdict> verdicts, CheckMany({user}, now));
  return verdicts.front();
}

absl::StatusOr<std::vector<SendRateCounter::Verdict>> RedisSendRateCounter::CheckMany(
    const std::vector<std::string>& users, absl::Time now) {
  const int64_t now_ms = absl::ToUnixMillis(now);
  std::vector<redis::Script::Invocation> invocations;
  for (const auto& user : users) {
    // Several sends in the same millisecond must stay distinct members of the set.
    std::string member = absl::StrCat(now_ms, ":", instance_id_, ":", sequence_.fetch_add(1));
    invocations.push_back({{absl::StrCat("sb:chat:rate:", user), absl::StrCat("sb:chat:cooldown:", user)},
                           {std::to_string(now_ms), std::to_string(absl::ToInt64Milliseconds(options_.send_window)),
                            std::to_string(options_.send_rate),
                            std::to_string(absl::ToInt64Milliseconds(options_.cooldown)), std::move(member)}});
  }
  SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, script_.RunPipelined(redis_, invocations));
  std::vector<Verdict> verdicts;
  for (const auto& reply : replies) {
    if (reply.type != redis::Reply::Type::kInteger) return absl::InternalError("send rate script: unexpected reply");
    verdicts.push_back(reply.integer == 0 ? Verdict::kAllowed
                       : reply.integer == 1 ? Verdict::kAllowedInCooldown
                                            : Verdict::kLimited);
  }
  return verdicts;
}

}  // namespace sb::chat
