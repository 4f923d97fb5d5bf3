// The moderation write gate of SendMessage (plain classes, no I/O; thread-safe).
//
//  - Rate limit: at most `send_rate` messages per `send_window` per user (sliding window). A send
//    over the limit is refused (RESOURCE_EXHAUSTED, nothing stored) and starts a cooldown.
//  - During a cooldown, and for accounts younger than `new_account_age`, links are stripped from
//    message content ("[link removed]").
//  - Messages of shadowed authors are stored and echoed to the author but delivered to no one else.
// What the gate did is kept on the message (Moderation) and returned to the sender only.
//
// The limiter's state is in memory, per sb-chat instance: with N replicas a user can send up to N
// times the rate (requests are spread by the gateway's channel); documented in docs/chat.md.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
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

// Sliding-window send counter per user with cooldowns.
class SendRateLimiter {
 public:
  enum class Verdict { kAllowed, kAllowedInCooldown, kLimited };
  explicit SendRateLimiter(ModerationOptions options) : options_(options) {}

  // Records one send attempt of `user` at `now`; kLimited ones are not counted as sent.
  Verdict Check(const std::string& user, absl::Time now);
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
  explicit ModerationGate(ModerationOptions options) : options_(options), limiter_(options) {}

  // `first_seen` is when the account entered the user directory; `shadowed` its author flag.
  GateDecision Evaluate(const std::string& user, absl::Time now, absl::Time first_seen, bool shadowed);
  // Applies `decision` to the message content, filling `moderation` (links_stripped, shadowed, reason).
  std::string Apply(const GateDecision& decision, const std::string& content, Moderation& moderation) const;

  const ModerationOptions& options() const { return options_; }

 private:
  ModerationOptions options_;
  SendRateLimiter limiter_;
};

}  // namespace sb::chat
