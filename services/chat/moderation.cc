#include "services/chat/moderation.h"

#include <array>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sb/common/log.h"
#include "sb/common/status.h"

namespace sb::chat {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Top-level domains whose bare "host.tld" mentions count as links. A list rather than "any
// word.word" so that ordinary text ("e.g.", "end.Then") is left alone.
constexpr std::array<const char*, 24> kTlds = {"com", "net", "org", "io",  "co", "me",   "info", "biz",
                                               "xyz", "app", "dev", "ly",  "gg", "tv",   "ru",   "cn",
                                               "de",  "uk",  "fr",  "link", "site", "online", "top", "club"};

bool LooksLikeHostWithTld(const std::string& token) {
  // host part ends at the first '/', '?', '#' or ':'.
  size_t end = token.find_first_of("/?#:");
  std::string host = absl::AsciiStrToLower(token.substr(0, end));
  while (!host.empty() && (host.back() == '.' || host.back() == ',' || host.back() == '!' || host.back() == ')')) {
    host.pop_back();
  }
  size_t dot = host.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= host.size()) return false;
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) return false;
  }
  std::string tld = host.substr(dot + 1);
  for (const char* t : kTlds) {
    if (tld == t) return true;
  }
  return false;
}

bool IsLinkToken(const std::string& token) {
  std::string lower = absl::AsciiStrToLower(token);
  // Leading punctuation such as "(" or "<" does not hide a link.
  size_t start = lower.find_first_not_of("([<\"'");
  if (start == std::string::npos) return false;
  lower = lower.substr(start);
  if (absl::StrContains(lower, "://")) return true;
  if (absl::StartsWith(lower, "www.") || absl::StartsWith(lower, "mailto:")) return true;
  return LooksLikeHostWithTld(lower);
}

}  // namespace

StripResult StripLinks(const std::string& text) {
  StripResult out;
  out.text.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (IsSpace(text[i])) {
      out.text.push_back(text[i++]);
      continue;
    }
    size_t j = i;
    while (j < text.size() && !IsSpace(text[j])) ++j;
    std::string token = text.substr(i, j - i);
    if (IsLinkToken(token)) {
      out.text += kLinkPlaceholder;
      out.stripped = true;
    } else {
      out.text += token;
    }
    i = j;
  }
  return out;
}

void SendRateLimiter::PruneLocked(absl::Time now) {
  // Bounded memory: forget users with nothing in the window and no cooldown.
  if (users_.size() < 10'000) return;
  for (auto it = users_.begin(); it != users_.end();) {
    auto& s = it->second;
    while (!s.sends.empty() && s.sends.front() <= now - options_.send_window) s.sends.pop_front();
    if (s.sends.empty() && s.cooldown_until <= now) {
      it = users_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<SendRateCounter::Verdict> SendRateLimiter::Check(const std::string& user, absl::Time now) {
  std::lock_guard lock(mu_);
  PruneLocked(now);
  State& s = users_[user];
  const bool cooling = s.cooldown_until > now;
  if (options_.send_rate <= 0) return cooling ? Verdict::kAllowedInCooldown : Verdict::kAllowed;
  while (!s.sends.empty() && s.sends.front() <= now - options_.send_window) s.sends.pop_front();
  if (static_cast<int>(s.sends.size()) >= options_.send_rate) {
    s.cooldown_until = now + options_.cooldown;
    return Verdict::kLimited;
  }
  s.sends.push_back(now);
  return cooling ? Verdict::kAllowedInCooldown : Verdict::kAllowed;
}

bool SendRateLimiter::InCooldown(const std::string& user, absl::Time now) {
  std::lock_guard lock(mu_);
  auto it = users_.find(user);
  return it != users_.end() && it->second.cooldown_until > now;
}

absl::StatusOr<std::vector<SendRateCounter::Verdict>> SendRateCounter::CheckMany(const std::vector<std::string>& users,
                                                                                absl::Time now) {
  std::vector<Verdict> verdicts;
  for (const auto& user : users) {
    SB_ASSIGN_OR_RETURN(Verdict v, Check(user, now));
    verdicts.push_back(v);
  }
  return verdicts;
}

std::vector<SendRateCounter::Verdict> ModerationGate::CheckRates(const std::vector<std::string>& users, absl::Time now) {
  if (shared_counter_ != nullptr) {
    auto verdicts = shared_counter_->CheckMany(users, now);
    if (verdicts.ok() && verdicts->size() == users.size()) return *std::move(verdicts);
    sb::log::Warn("send rate: shared counter unavailable, limiting per instance",
                  {{"error", verdicts.ok() ? std::string("reply size") : std::string(verdicts.status().message())}});
  }
  std::vector<SendRateCounter::Verdict> verdicts;
  for (const auto& user : users) verdicts.push_back(*limiter_.Check(user, now));
  return verdicts;
}

GateDecision ModerationGate::Decide(SendRateCounter::Verdict verdict, const Attempt& attempt, absl::Time now) const {
  GateDecision d;
  auto add_reason = [&](const char* r) { d.reason = d.reason.empty() ? r : absl::StrCat(d.reason, ",", r); };
  switch (verdict) {
    case SendRateCounter::Verdict::kLimited:
      d.status = absl::ResourceExhaustedError(absl::StrCat(
          "sending too fast: at most ", options_.send_rate, " messages per ",
          absl::FormatDuration(options_.send_window), "; links are removed for ",
          absl::FormatDuration(options_.cooldown)));
      return d;
    case SendRateCounter::Verdict::kAllowedInCooldown:
      d.strip_links = true;
      add_reason("cooldown");
      break;
    case SendRateCounter::Verdict::kAllowed:
      break;
  }
  if (options_.new_account_age > absl::ZeroDuration() && now - attempt.first_seen < options_.new_account_age) {
    d.strip_links = true;
    add_reason("new_account");
  }
  if (attempt.shadowed) {
    d.shadow = true;
    add_reason("shadowed");
  }
  return d;
}

std::vector<GateDecision> ModerationGate::EvaluateMany(const std::vector<Attempt>& attempts, absl::Time now) {
  std::vector<std::string> users;
  for (const auto& a : attempts) users.push_back(a.user);
  const std::vector<SendRateCounter::Verdict> verdicts = CheckRates(users, now);
  std::vector<GateDecision> decisions;
  for (size_t i = 0; i < attempts.size(); ++i) decisions.push_back(Decide(verdicts[i], attempts[i], now));
  return decisions;
}

GateDecision ModerationGate::Evaluate(const std::string& user, absl::Time now, absl::Time first_seen, bool shadowed) {
  return EvaluateMany({Attempt{user, first_seen, shadowed}}, now).front();
}

std::string ModerationGate::Apply(const GateDecision& decision, const std::string& content,
                                  Moderation& moderation) const {
  std::string out = content;
  moderation.shadowed = decision.shadow;
  if (decision.strip_links) {
    StripResult r = StripLinks(content);
    out = std::move(r.text);
    moderation.links_stripped = r.stripped;
  }
  // The reason is kept only when the gate changed something about the message.
  if (moderation.links_stripped || moderation.shadowed) moderation.reason = decision.reason;
  return out;
}

}  // namespace sb::chat
