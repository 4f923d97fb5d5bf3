#include "services/gateway/guardrails.h"

#include <algorithm>
#include <cctype>

namespace sb::gateway {

TokenBucket::TokenBucket(double rate_per_second, double burst, Clock::time_point now)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), tokens_(std::max(1.0, burst)), last_(now) {}

bool TokenBucket::TryTake(Clock::time_point now) {
  if (rate_ <= 0) return true;
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    last_ = now;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

bool KeyedLimiter::TryAcquire(const std::string& key) {
  std::lock_guard lock(mu_);
  int64_t& count = counts_[key];
  if (limit_ > 0 && count >= limit_) {
    if (count == 0) counts_.erase(key);
    return false;
  }
  ++count;
  return true;
}

void KeyedLimiter::Acquire(const std::string& key) {
  std::lock_guard lock(mu_);
  ++counts_[key];
}

void KeyedLimiter::Release(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  if (it == counts_.end()) return;
  if (--it->second <= 0) counts_.erase(it);
}

int64_t KeyedLimiter::count(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

size_t KeyedLimiter::keys() const {
  std::lock_guard lock(mu_);
  return counts_.size();
}

namespace {
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

OriginPolicy::OriginPolicy(std::vector<std::string> allowed) {
  allow_all_ = allowed.empty();
  for (auto& origin : allowed) {
    std::string lower = Lower(origin);
    // A trailing slash is a common configuration slip; browsers never send one.
    while (!lower.empty() && lower.back() == '/') lower.pop_back();
    if (lower == "*") allow_all_ = true;
    allowed_.push_back(std::move(lower));
  }
}

bool OriginPolicy::Allows(const std::string* origin) const {
  if (allow_all_ || origin == nullptr) return true;
  const std::string lower = Lower(*origin);
  return std::find(allowed_.begin(), allowed_.end(), lower) != allowed_.end();
}

bool AbuseTracker::Record(bool refused) {
  if (!refused) {
    consecutive_ = 0;
    return false;
  }
  ++consecutive_;
  return threshold_ > 0 && consecutive_ == threshold_;
}

ClientAddressPolicy::ClientAddressPolicy(std::vector<std::string> trusted_proxies)
    : trusted_(std::move(trusted_proxies)) {
  trust_all_ = std::find(trusted_.begin(), trusted_.end(), "*") != trusted_.end();
}

bool ClientAddressPolicy::Trusted(std::string_view address) const {
  return trust_all_ || std::find(trusted_.begin(), trusted_.end(), address) != trusted_.end();
}

std::string ClientAddressPolicy::ClientAddress(std::string_view peer, const std::string* forwarded_for) const {
  if (forwarded_for == nullptr || trusted_.empty() || !Trusted(peer)) return std::string(peer);
  // Right to left: the rightmost entries were appended by our own proxies; the first address that
  // is not one of them is the client as far as anything we trust can tell.
  std::string_view rest(*forwarded_for);
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) hop.remove_prefix(1);
    while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) hop.remove_suffix(1);
    if (hop.empty()) continue;
    if (trust_all_ || !Trusted(hop)) return std::string(hop.substr(0, 64));  // bounded: it is a map key
  }
  return std::string(peer);
}

}  // namespace sb::gateway
