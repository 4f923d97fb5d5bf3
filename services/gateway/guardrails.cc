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

}  // namespace sb::gateway
