#include <catch2/catch.hpp>

#include "services/gateway/guardrails.h"

using namespace sb::gateway;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST_CASE("token bucket allows a burst, then refills at the rate") {
  const auto t0 = Clock::now();
  TokenBucket bucket(10, 3, t0);  // 10/s, burst 3
  CHECK(bucket.TryTake(t0));
  CHECK(bucket.TryTake(t0));
  CHECK(bucket.TryTake(t0));
  CHECK_FALSE(bucket.TryTake(t0));
  CHECK_FALSE(bucket.TryTake(t0 + milliseconds(50)));  // half a token
  CHECK(bucket.TryTake(t0 + milliseconds(110)));        // one token back
  CHECK_FALSE(bucket.TryTake(t0 + milliseconds(120)));
  // A long pause refills only up to the burst.
  const auto later = t0 + std::chrono::seconds(60);
  int taken = 0;
  while (bucket.TryTake(later)) ++taken;
  CHECK(taken == 3);
}

TEST_CASE("token bucket with rate 0 is unlimited") {
  const auto t0 = Clock::now();
  TokenBucket bucket(0, 1, t0);
  for (int i = 0; i < 1000; ++i) REQUIRE(bucket.TryTake(t0));
}

TEST_CASE("keyed limiter counts per key and forgets released keys") {
  KeyedLimiter limiter(2);
  CHECK(limiter.TryAcquire("1.2.3.4"));
  CHECK(limiter.TryAcquire("1.2.3.4"));
  CHECK_FALSE(limiter.TryAcquire("1.2.3.4"));
  CHECK(limiter.count("1.2.3.4") == 2);
  CHECK(limiter.TryAcquire("5.6.7.8"));  // other keys are independent
  limiter.Release("1.2.3.4");
  CHECK(limiter.TryAcquire("1.2.3.4"));
  limiter.Release("1.2.3.4");
  limiter.Release("1.2.3.4");
  limiter.Release("5.6.7.8");
  CHECK(limiter.keys() == 0);
  limiter.Release("never-seen");  // harmless
  CHECK(limiter.count("never-seen") == 0);
}

TEST_CASE("keyed limiter: Acquire ignores the limit, limit 0 is unlimited") {
  KeyedLimiter limited(1);
  REQUIRE(limited.TryAcquire("k"));
  limited.Acquire("k");
  CHECK(limited.count("k") == 2);
  CHECK_FALSE(limited.TryAcquire("k"));
  KeyedLimiter unlimited(0);
  for (int i = 0; i < 100; ++i) REQUIRE(unlimited.TryAcquire("k"));
  CHECK(unlimited.count("k") == 100);
}

TEST_CASE("origin policy") {
  OriginPolicy any({});
  std::string evil = "https://evil.example";
  CHECK(any.Allows(&evil));
  OriginPolicy strict({"https://App.example.com/", "http://localhost:3000"});
  std::string app = "https://app.example.com", local = "http://localhost:3000", other = "http://localhost:3001";
  CHECK(strict.Allows(&app));
  CHECK(strict.Allows(&local));
  CHECK_FALSE(strict.Allows(&other));
  CHECK_FALSE(strict.Allows(&evil));
  std::string null_origin = "null";
  CHECK_FALSE(strict.Allows(&null_origin));
  CHECK(strict.Allows(nullptr));  // no Origin: not a browser cross-site request
  OriginPolicy star({"*"});
  CHECK(star.Allows(&evil));
}

TEST_CASE("abuse tracker fires once at the threshold of consecutive refusals") {
  AbuseTracker tracker(3);
  CHECK_FALSE(tracker.Record(true));
  CHECK_FALSE(tracker.Record(true));
  CHECK_FALSE(tracker.Record(false));  // reset
  CHECK_FALSE(tracker.Record(true));
  CHECK_FALSE(tracker.Record(true));
  CHECK(tracker.Record(true));
  CHECK_FALSE(tracker.Record(true));  // only once
  AbuseTracker never(0);
  for (int i = 0; i < 100; ++i) REQUIRE_FALSE(never.Record(true));
}

TEST_CASE("client address: the peer unless it is a trusted proxy, then the nearest untrusted X-Forwarded-For hop") {
  const std::string spoofed = "1.2.3.4";
  ClientAddressPolicy none({});
  CHECK(none.ClientAddress("10.0.0.1", &spoofed) == "10.0.0.1");  // default: the header is ignored
  CHECK(none.ClientAddress("10.0.0.1", nullptr) == "10.0.0.1");

  ClientAddressPolicy proxies({"10.0.0.7", "10.0.0.8"});
  CHECK(proxies.ClientAddress("203.0.113.5", &spoofed) == "203.0.113.5");  // not from a proxy
  const std::string chain = "6.6.6.6, 198.51.100.4 ,10.0.0.8";            // client-set, client, our proxy
  CHECK(proxies.ClientAddress("10.0.0.7", &chain) == "198.51.100.4");
  const std::string only_proxies = "10.0.0.8, 10.0.0.7";
  CHECK(proxies.ClientAddress("10.0.0.7", &only_proxies) == "10.0.0.7");
  const std::string empty = " , ";
  CHECK(proxies.ClientAddress("10.0.0.7", &empty) == "10.0.0.7");
  CHECK(proxies.ClientAddress("10.0.0.7", nullptr) == "10.0.0.7");

  ClientAddressPolicy any({"*"});
  CHECK(any.ClientAddress("10.9.9.9", &chain) == "10.0.0.8");  // the hop the nearest proxy appended
  const std::string huge(500, '9');
  CHECK(any.ClientAddress("10.9.9.9", &huge).size() == 64);     // bounded: it is a map key
}
