// The moderation write gate of SendMessage (plain classes, no I/O; thread-safe).
//
//  - Rate limit: at most `send_rate` messages per `send_window` per user (sliding window). A send
//    over the limit is refused (RESOURCE_EXHAUSTED, nothing stored) and starts a cooldown.
//  - During a cooldown, and for accounts younger than `new_account_age`, links are stripped from
//    message content ("[link removed]").
//  - Messages of shadowed authors are stored and echoed to the author but delivered to no one else.
// What the gate did is kept on the message (Moderation) and returned to the sender only.
//
// The limiter is a SendRateCounter: in production RedisSendRateCounter (redis_rate_limiter.h), shared
// by every sb-chat replica; SendRateLimiter keeps the same rules in memory (tests, and the fallback
// while Redis is unreachable).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/chat/model.h"

namespace sb::chat {

struct ModerationOptions {
  int send_rate = 20;                               // messages per window; 0 disables the limit
  absl::Duration send_window = absl::Seconds(10);
  absl::Duration cooldown = absl::Seconds(60);      // after hitting the limit
  absl::Duration new_account_age = absl::ZeroDuration();  // zero: no new-account rule
};

inline constexpr char kLinkPlaceholder[] = "[link removed]";

// `text` with every link-like token (scheme://..., www...., host.tld[/...] for common TLDs,
// mailto:) replaced by kLinkPlaceholder; `stripped` tells whether anything was replaced.
struct StripResult {
  std::string text;
  bool stripped = false;
};
StripResult StripLinks(const std::string& text);

// Sliding-window send counting per user with cooldowns: at most send_rate sends within any
// send_window; an attempt over the limit is refused and starts a cooldown.
class SendRateCounter {
 public:
  enum class Verdict { kAllowed, kAllowedInCooldown, kLimited };
  virtual ~SendRateCounter() = default;
  // Records one send attempt of `user` at `now`; kLimited ones are not counted as sent.
  virtual absl::StatusOr<Verdict> Check(const std::string& user, absl::Time now) = 0;
  // Check for each entry of `users` in order (a user may repeat: each entry is one attempt). The
  // outer status fails as a whole (nothing recorded); by default one Check each.
  virtual absl::StatusOr<std::vector<Verdict>> CheckMany(const std::vector<std::string>& users, absl::Time now);
};

// SendRateCounter in process memory (one instance's view). Never fails.
class SendRateLimiter : public SendRateCounter {
 public:
  explicit SendRateLimiter(ModerationOptions options) : options_(options) {}

  absl::StatusOr<Verdict> Check(const std::string& user, absl::Time now) override;
  // True while `user` is in a cooldown at `now`.
  bool InCooldown(const std::string& user, absl::Time now);

 private:
  struct State {
    std::deque<absl::Time> sends;  // within the window, oldest first
    absl::Time cooldown_until = absl::InfinitePast();
  };
  void PruneLocked(absl::Time now);

  ModerationOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, State> users_;
};

// What the gate decided for one send.
struct GateDecision {
  absl::Status status;  // RESOURCE_EXHAUSTED when rate limited
  bool strip_links = false;
  bool shadow = false;
  std::string reason;
};

class ModerationGate {
 public:
  // `shared_counter` (may be null: in-memory only) must outlive the gate; when it fails (Redis
  // down) the gate falls back to its in-memory limiter rather than refusing or waving sends through.
  explicit ModerationGate(ModerationOptions options, SendRateCounter* shared_counter = nullptr)
      : options_(options), limiter_(options), shared_counter_(shared_counter) {}

  // `first_seen` is when the account entered the user directory; `shadowed` its author flag.
  GateDecision Evaluate(const std::string& user, absl::Time now, absl::Time first_seen, bool shadowed);
  struct Attempt {
    std::string user;
    absl::Time first_seen;
    bool shadowed = false;
  };
  // Evaluate for several sends at once, in order (one shared-counter round trip for all).
  std::vector<GateDecision> EvaluateMany(const std::vector<Attempt>& attempts, absl::Time now);
  // Applies `decision` to the message content, filling `moderation` (links_stripped, shadowed, reason).
  std::string Apply(const GateDecision& decision, const std::string& content, Moderation& moderation) const;

  const ModerationOptions& options() const { return options_; }

 private:
  std::vector<SendRateCounter::Verdict> CheckRates(const std::vector<std::string>& users, absl::Time now);
  GateDecision Decide(SendRateCounter::Verdict verdict, const Attempt& attempt, absl::Time now) const;

  ModerationOptions options_;
  SendRateLimiter limiter_;
  SendRateCounter* shared_counter_;
};

}  // namespace sb::chat
