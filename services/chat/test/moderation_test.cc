#include <catch2/catch.hpp>

#include "services/chat/moderation.h"

using sb::chat::GateDecision;
using sb::chat::Moderation;
using sb::chat::ModerationGate;
using sb::chat::ModerationOptions;
using sb::chat::SendRateLimiter;
using sb::chat::StripLinks;

TEST_CASE("StripLinks removes URLs, www hosts and bare domains but keeps ordinary text") {
  auto r = StripLinks("see https://evil.example/x?y=1 and www.spam.net or buy.cheap.com/now, ok?");
  CHECK(r.stripped);
  CHECK(r.text == "see [link removed] and [link removed] or [link removed] ok?");

  auto plain = StripLinks("e.g. this is fine. end.Then 3.14 version 1.2.3");
  CHECK_FALSE(plain.stripped);
  CHECK(plain.text == "e.g. this is fine. end.Then 3.14 version 1.2.3");

  auto spaces = StripLinks("  (http://a.b)\n\tmailto:x@y.org ");
  CHECK(spaces.stripped);
  CHECK(spaces.text == "  [link removed]\n\t[link removed] ");
}

TEST_CASE("rate limiter refuses over the window, then a cooldown follows") {
  ModerationOptions o{.send_rate = 3, .send_window = absl::Seconds(10), .cooldown = absl::Seconds(60)};
  SendRateLimiter limiter(o);
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  for (int i = 0; i < 3; ++i) CHECK(*limiter.Check("u", t0 + absl::Seconds(i)) == SendRateLimiter::Verdict::kAllowed);
  CHECK(*limiter.Check("u", t0 + absl::Seconds(3)) == SendRateLimiter::Verdict::kLimited);
  CHECK(*limiter.Check("other", t0 + absl::Seconds(3)) == SendRateLimiter::Verdict::kAllowed);  // per user
  // The window has moved on (sends at 0..2 s expired) but the cooldown (until 63 s) still holds.
  CHECK(*limiter.Check("u", t0 + absl::Seconds(20)) == SendRateLimiter::Verdict::kAllowedInCooldown);
  CHECK(limiter.InCooldown("u", t0 + absl::Seconds(62)));
  CHECK_FALSE(limiter.InCooldown("u", t0 + absl::Seconds(64)));
  CHECK(*limiter.Check("u", t0 + absl::Seconds(64)) == SendRateLimiter::Verdict::kAllowed);
}

TEST_CASE("gate: cooldown and new accounts strip links, shadowed authors are marked, reasons recorded") {
  ModerationOptions o{.send_rate = 1, .send_window = absl::Seconds(10), .cooldown = absl::Seconds(30),
                      .new_account_age = absl::Hours(1)};
  ModerationGate gate(o);
  const absl::Time now = absl::FromUnixSeconds(2'000'000);
  const absl::Time old_account = now - absl::Hours(48);

  GateDecision first = gate.Evaluate("a", now, old_account, false);
  REQUIRE(first.status.ok());
  Moderation m1;
  CHECK(gate.Apply(first, "go to https://x.io", m1) == "go to https://x.io");
  CHECK_FALSE(m1.links_stripped);
  CHECK(m1.reason.empty());

  GateDecision limited = gate.Evaluate("a", now + absl::Seconds(1), old_account, false);
  CHECK(limited.status.code() == absl::StatusCode::kResourceExhausted);

  GateDecision cooling = gate.Evaluate("a", now + absl::Seconds(15), old_account, false);
  REQUIRE(cooling.status.ok());
  Moderation m2;
  CHECK(gate.Apply(cooling, "go to https://x.io", m2) == "go to [link removed]");
  CHECK(m2.links_stripped);
  CHECK(m2.reason == "cooldown");

  GateDecision fresh = gate.Evaluate("new", now, now - absl::Minutes(5), true);
  REQUIRE(fresh.status.ok());
  Moderation m3;
  CHECK(gate.Apply(fresh, "hi www.x.com", m3) == "hi [link removed]");
  CHECK(m3.links_stripped);
  CHECK(m3.shadowed);
  CHECK(m3.reason == "new_account,shadowed");

  // Nothing to strip: the message is unchanged and no link reason is claimed.
  Moderation m4;
  GateDecision fresh2 = gate.Evaluate("new2", now, now - absl::Minutes(5), false);
  CHECK(gate.Apply(fresh2, "hello", m4) == "hello");
  CHECK_FALSE(m4.links_stripped);
  CHECK(m4.reason.empty());
}
