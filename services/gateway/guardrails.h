// Guardrails of the gateway as plain, thread-safe classes (no sockets, no clocks of their own), so
// each limit can be unit-tested alone: a token bucket for per-socket event rates, keyed counters
// for connections per IP / per Origin, the Origin allow-list and the client address behind proxies.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sb::gateway {

// Token bucket: holds up to `burst` tokens, refilled continuously at `rate_per_second`. Not
// thread-safe (one per socket, used on the socket's strand).
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  // rate_per_second <= 0 disables limiting (TryTake always succeeds). burst is at least 1.
  TokenBucket(double rate_per_second, double burst, Clock::time_point now);

  // Takes one token if available at `now`; false when the bucket is empty.
  bool TryTake(Clock::time_point now);
  double tokens() const { return tokens_; }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// Live counts per key (client IP, Origin) with a common limit. Thread-safe.
class KeyedLimiter {
 public:
  // limit 0 means unlimited (counts are still kept, for metrics).
  explicit KeyedLimiter(int64_t limit) : limit_(limit) {}

  // Counts one more for `key` if that keeps it within the limit; false (nothing counted) otherwise.
  bool TryAcquire(const std::string& key);
  // Counts one more regardless of the limit (a recovered session that already held a slot).
  void Acquire(const std::string& key);
  // Drops one count; keys reaching zero are forgotten. Releasing an unknown key does nothing.
  void Release(const std::string& key);
  int64_t count(const std::string& key) const;
  size_t keys() const;
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> counts_;
};

// The Origin allow-list. An empty list allows every origin (development); otherwise an entry is an
// exact origin ("https://app.example.com") or "*" (any). Comparison ignores ASCII case.
class OriginPolicy {
 public:
  explicit OriginPolicy(std::vector<std::string> allowed);
  // True when a request with this Origin header (nullptr: none sent) may open a session. Requests
  // without an Origin (native apps, servers) are allowed: browsers always send one on cross-site
  // WebSocket and XHR requests, which is what cross-site WebSocket hijacking needs.
  bool Allows(const std::string* origin) const;
  bool allow_all() const { return allow_all_; }
  const std::vector<std::string>& allowed() const { return allowed_; }

 private:
  std::vector<std::string> allowed_;  // lower-cased
  bool allow_all_ = false;
};

// The client address a connection is counted under (max connections per IP). By default the TCP
// peer's address: X-Forwarded-For is set by whoever sends the request, so believing it would let a
// client pick a fresh "address" per connection. With trusted proxies configured, a request whose
// peer is one of them is attributed to the nearest address in its X-Forwarded-For that is not a
// trusted proxy (walking the list from the right, the hops the proxies appended), or to the peer
// when the header is absent or holds only trusted proxies. Entries: exact addresses as the server
// prints them ("10.0.0.7", "::1"), or "*" (trust every peer: only behind a proxy that overwrites
// the header). Thread-safe (immutable).
class ClientAddressPolicy {
 public:
  explicit ClientAddressPolicy(std::vector<std::string> trusted_proxies);
  // `forwarded_for`: the X-Forwarded-For header value, if the request had one.
  std::string ClientAddress(std::string_view peer, const std::string* forwarded_for) const;

 private:
  bool Trusted(std::string_view address) const;
  std::vector<std::string> trusted_;
  bool trust_all_ = false;
};

// Counts consecutive rate-limited events of a socket; `Record(false)` resets. After `threshold`
// refusals in a row (0: never) the socket is considered abusive and should be disconnected.
class AbuseTracker {
 public:
  explicit AbuseTracker(int threshold) : threshold_(threshold) {}
  // Returns true when this refusal crosses the threshold.
  bool Record(bool refused);
  int consecutive() const { return consecutive_; }

 private:
  int threshold_;
  int consecutive_ = 0;
};

}  // namespace sb::gateway
