// The send rate counters: the in-memory one and the Redis one follow the same rules; the Redis one
// is shared by replicas and the gate falls back to memory when Redis is gone.
#include <memory>

#include <catch2/catch.hpp>

#include "sb/testing/servers.h"
#include "services/chat/redis_rate_limiter.h"

namespace {

using namespace sb::chat;
using Verdict = SendRateCounter::Verdict;

sb::testing::RedisServer& Redis() {
  static auto server = [] {
    auto s = sb::testing::RedisServer::Start();
    if (!s.ok()) FAIL("redis: " << s.status().ToString());
    return std::move(*s);
  }();
  return *server;
}

std::unique_ptr<sb::redis::Client> Connect() {
  auto client = sb::redis::Client::Create({.url = Redis().url(), .pool_size = 2});
  REQUIRE(client.ok());
  return std::move(*client);
}

const ModerationOptions kOptions{.send_rate = 3, .send_window = absl::Seconds(10), .cooldown = absl::Seconds(60)};

// The scenario of the in-memory limiter's unit test, against any counter.
void WindowThenCooldown(SendRateCounter& counter, const std::string& user) {
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  for (int i = 0; i < 3; ++i) CHECK(*counter.Check(user, t0 + absl::Seconds(i)) == Verdict::kAllowed);
  CHECK(*counter.Check(user, t0 + absl::Seconds(3)) == Verdict::kLimited);
  CHECK(*counter.Check(user + "-other", t0 + absl::Seconds(3)) == Verdict::kAllowed);  // per user
  // The window moved on (sends at 0..2 s left it at 10..12 s) but the cooldown (until 63 s) holds.
  CHECK(*counter.Check(user, t0 + absl::Seconds(20)) == Verdict::kAllowedInCooldown);
  CHECK(*counter.Check(user, t0 + absl::Seconds(64)) == Verdict::kAllowed);
}

}  // namespace

TEST_CASE("the Redis send counter follows the in-memory limiter's rules", "[integration]") {
  SendRateLimiter memory(kOptions);
  WindowThenCooldown(memory, "mem");
  auto redis = Connect();
  RedisSendRateCounter shared(*redis, kOptions, "chat-1");
  WindowThenCooldown(shared, "redis");
}

TEST_CASE("replicas share one limit per user through Redis", "[integration]") {
  auto redis = Connect();
  RedisSendRateCounter a(*redis, kOptions, "chat-a"), b(*redis, kOptions, "chat-b");
  const absl::Time t0 = absl::FromUnixSeconds(2'000'000);
  // Same millisecond on both replicas: still three distinct sends.
  CHECK(*a.Check("dana", t0) == Verdict::kAllowed);
  CHECK(*b.Check("dana", t0) == Verdict::kAllowed);
  CHECK(*a.Check("dana", t0) == Verdict::kAllowed);
  CHECK(*b.Check("dana", t0 + absl::Milliseconds(1)) == Verdict::kLimited);
  CHECK(*a.Check("dana", t0 + absl::Seconds(5)) == Verdict::kLimited);  // cooling and still full
  CHECK(*b.Check("dana", t0 + absl::Seconds(11)) == Verdict::kAllowedInCooldown);
}

TEST_CASE("the gate limits per instance while Redis is unreachable, then shares again", "[integration]") {
  auto redis = Connect();
  RedisSendRateCounter shared(*redis, kOptions, "chat-1");
  ModerationGate gate(kOptions, &shared);
  const absl::Time t0 = absl::FromUnixSeconds(3'000'000);
  REQUIRE(Redis().Stop().ok());
  CHECK_FALSE(shared.Check("erin", t0).ok());
  for (int i = 0; i < 3; ++i) CHECK(gate.Evaluate("erin", t0, t0 - absl::Hours(100), false).status.ok());
  CHECK(gate.Evaluate("erin", t0, t0 - absl::Hours(100), false).status.code() == absl::StatusCode::kResourceExhausted);
  REQUIRE(Redis().Resume().ok());
  // Back on Redis, where erin has no sends yet: the shared count is what applies.
  auto after = gate.Evaluate("erin", t0 + absl::Seconds(1), t0 - absl::Hours(100), false);
  CHECK(after.status.ok());
}

TEST_CASE("a batch of attempts counts each one in order, in one round trip, like single checks", "[integration]") {
  auto redis = Connect();
  RedisSendRateCounter shared(*redis, kOptions, "chat-batch");
  SendRateLimiter memory(kOptions);
  const absl::Time t0 = absl::FromUnixSeconds(3'000'000);
  const std::vector<std::string> users{"gina", "hank", "gina", "gina", "gina", "hank"};
  const std::vector<Verdict> expected{Verdict::kAllowed, Verdict::kAllowed, Verdict::kAllowed,
                                      Verdict::kAllowed, Verdict::kLimited, Verdict::kAllowed};
  auto batch = shared.CheckMany(users, t0);
  REQUIRE(batch.ok());
  CHECK(*batch == expected);
  auto in_memory = memory.CheckMany(users, t0);  // the default: one Check each
  REQUIRE(in_memory.ok());
  CHECK(*in_memory == expected);
  // The limited attempt started gina's cooldown for later single checks too.
  CHECK(*shared.Check("gina", t0 + absl::Seconds(20)) == Verdict::kAllowedInCooldown);
}
