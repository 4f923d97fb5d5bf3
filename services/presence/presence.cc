#include "services/presence/presence.h"

#include <set>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/common/log.h"
#include "sb/common/status.h"

namespace sb::presence {

namespace json = boost::json;

std::string FormatTime(int64_t epoch_ms) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", absl::FromUnixMillis(epoch_ms), absl::UTCTimeZone());
}

namespace {

absl::Status ValidateUser(const std::string& user) { return sb::bus::ValidateId(user, "user id"); }

absl::Status ValidateSession(const std::string& session_id) {
  SB_RETURN_IF_ERROR(sb::bus::ValidateId(session_id, "session id"));
  if (session_id.find('\0') != std::string::npos) return absl::InvalidArgumentError("session id: must not contain NUL");
  return absl::OkStatus();
}

absl::Status ValidateSessionInfo(const SessionInfo& s) {
  SB_RETURN_IF_ERROR(ValidateUser(s.user_id));
  SB_RETURN_IF_ERROR(ValidateSession(s.session_id));
  for (const auto* field : {&s.gateway_id, &s.device, &s.platform}) {
    if (field->size() > 128 || !sb::bus::IsValidUtf8(*field)) {
      return absl::InvalidArgumentError("gateway id, device, platform: UTF-8, at most 128 bytes");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateUsers(const std::vector<std::string>& users) {
  if (users.size() > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxBatch, " user ids per call (got ", users.size(), ")"));
  }
  for (const auto& u : users) SB_RETURN_IF_ERROR(ValidateUser(u));
  return absl::OkStatus();
}

std::vector<std::string> Unique(const std::vector<std::string>& users) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& u : users) {
    if (seen.insert(u).second) out.push_back(u);
  }
  return out;
}

}  // namespace

Presence::Presence(PresenceState& state, LastSeenRepository& last_seen, Contacts& contacts, EventSink& events,
                   PresenceOptions options, sb::metrics::Registry& registry, Clock clock)
    : state_(state),
      last_seen_(last_seen),
      contacts_(contacts),
      events_(events),
      options_(options),
      clock_(std::move(clock)),
      transitions_(registry.Counter("sb_presence_transitions_total",
                                    "Presence transitions by kind (online, offline, away, back, update, "
                                    "appear_offline, expired_session, quick_reconnect).",
                                    {"kind"})),
      publish_failures_(registry.Counter("sb_presence_publish_failures_total",
                                         "Presence events that could not be put on the bus.")),
      online_users_(registry.Gauge("sb_presence_online_users",
                                   "Users with at least one live session (as of the last sweep).")),
      sessions_(registry.Gauge("sb_presence_sessions", "Live sessions (as of the last sweep).")) {}

void Presence::Count(const char* kind, double n) {
  if (n > 0) transitions_.Labels({kind}).Increment(n);
}

void Presence::Publish(const std::string& user, const std::string& event, std::string payload) {
  if (absl::Status s = events_.PublishPresence(user, event, payload); !s.ok()) {
    publish_failures_.Get().Increment();
    sb::log::Warn("presence event not published", {{"user", user}, {"event", event}, {"error", s.ToString()}});
  }
}

void Presence::PublishState(const std::string& user, const char* event) {
  auto statuses = Statuses({user}, nullptr);
  if (!statuses.ok()) {
    publish_failures_.Get().Increment();
    sb::log::Warn("presence event not published", {{"user", user}, {"event", event},
                                                   {"error", statuses.status().ToString()}});
    return;
  }
  const UserPresence& p = statuses->front();
  const int64_t last_seen = p.last_seen_ms.value_or(absl::ToUnixMillis(clock_()));
  json::object payload{{"userId", user}};
  const std::string name(event);
  if (name == "user:offline") {
    payload["lastSeen"] = FormatTime(last_seen);
  } else {
    payload["status"] = StatusName(p.status);
    if (name == "presence:update") payload["activity"] = p.activity;
    if (p.last_seen_ms || name == "presence:update") payload["lastSeen"] = FormatTime(last_seen);
  }
  Publish(user, name, json::serialize(payload));
}

absl::StatusOr<bool> Presence::RegisterSession(const SessionInfo& session) {
  SB_RETURN_IF_ERROR(ValidateSessionInfo(session));
  const absl::Time now = clock_();
  SB_ASSIGN_OR_RETURN(PresenceState::RegisterResult r, state_.Register(session, now, now + options_.lease));
  if (r.went_online) {
    Count("online");
    PublishState(session.user_id, "user:online");
  } else if (r.first_session) {
    Count("quick_reconnect");  // back within the debounce (or appearing offline): watchers saw nothing
  }
  return r.first_session;
}

absl::StatusOr<int> Presence::UnregisterSession(const std::string& user, const std::string& session_id,
                                                const std::string& gateway_id) {
  SB_RETURN_IF_ERROR(ValidateUser(user));
  SB_RETURN_IF_ERROR(ValidateSession(session_id));
  if (gateway_id.size() > 128) return absl::InvalidArgumentError("gateway id: at most 128 bytes");
  return state_.Unregister(user, session_id, gateway_id, clock_(), options_.debounce);
}

absl::StatusOr<std::vector<std::string>> Presence::RenewSessions(const std::string& gateway_id,
                                                                 const std::vector<SessionInfo>& sessions) {
  if (gateway_id.size() > 128) return absl::InvalidArgumentError("gateway id: at most 128 bytes");
  for (const auto& s : sessions) SB_RETURN_IF_ERROR(ValidateSessionInfo(s));
  if (sessions.empty()) return std::vector<std::string>{};
  const absl::Time now = clock_();
  SB_ASSIGN_OR_RETURN(PresenceState::RenewResult r, state_.Renew(sessions, now, now + options_.lease));
  for (const auto& user : r.back_online) {
    Count("back");
    PublishState(user, "presence:update");
  }
  return std::move(r.unknown_session_ids);
}

absl::StatusOr<UserPresence> Presence::SetStatus(const std::string& user, std::optional<Status> status,
                                                 const std::string& activity) {
  SB_RETURN_IF_ERROR(ValidateUser(user));
  if (activity.size() > kMaxActivityBytes || !sb::bus::IsValidUtf8(activity)) {
    return absl::InvalidArgumentError(absl::StrCat("activity: UTF-8, at most ", kMaxActivityBytes, " bytes"));
  }
  std::optional<std::string> new_activity;
  if (!status || !activity.empty()) new_activity = activity;
  SB_ASSIGN_OR_RETURN(PresenceState::Change change, state_.SetStatus(user, status, new_activity, clock_()));
  switch (change) {
    case PresenceState::Change::kOnline:
      Count("online");
      PublishState(user, "user:online");
      break;
    case PresenceState::Change::kOffline:
      Count("appear_offline");
      PublishState(user, "user:offline");
      break;
    case PresenceState::Change::kUpdate:
      Count("update");
      PublishState(user, "presence:update");
      break;
    case PresenceState::Change::kNone:
      break;
  }
  SB_ASSIGN_OR_RETURN(std::vector<UserPresence> self, Statuses({user}, nullptr));
  return self.front();
}

absl::StatusOr<std::vector<UserPresence>> Presence::Statuses(const std::vector<std::string>& users,
                                                             const std::vector<bool>* visible) {
  SB_ASSIGN_OR_RETURN(std::vector<PresenceState::UserState> states, state_.Read(users));
  // Last seen missing from Redis (e.g. Redis was lost): Postgres has what was flushed.
  std::vector<std::string> missing;
  for (size_t i = 0; i < users.size(); ++i) {
    if (!states[i].last_seen_ms && (!visible || (*visible)[i])) missing.push_back(users[i]);
  }
  missing = Unique(missing);
  if (!missing.empty()) {
    auto stored = last_seen_.Get(missing);
    if (stored.ok()) {
      for (size_t i = 0; i < users.size(); ++i) {
        if (auto it = stored->find(users[i]); it != stored->end() && !states[i].last_seen_ms) {
          states[i].last_seen_ms = it->second;
        }
      }
      std::vector<std::pair<std::string, int64_t>> entries(stored->begin(), stored->end());
      if (absl::Status s = state_.CacheLastSeen(entries); !s.ok()) {
        sb::log::Warn("last seen not cached", {{"error", s.ToString()}});
      }
    } else {
      // Statuses stay useful without the fallback; last seen is then unknown.
      sb::log::Warn("last seen fallback to postgres failed", {{"error", stored.status().ToString()}});
    }
  }
  std::vector<UserPresence> out;
  out.reserve(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    const PresenceState::UserState& s = states[i];
    UserPresence p;
    p.user_id = users[i];
    if (visible && !(*visible)[i]) {
      out.push_back(std::move(p));  // looks offline, never seen
      continue;
    }
    p.is_online = s.published_online && !s.invisible;
    p.status = p.is_online ? s.status : Status::kOffline;
    p.last_seen_ms = s.last_seen_ms;
    if (p.is_online) p.activity = s.activity;
    if (!visible) {
      p.sessions = s.sessions;
      p.connected = s.sessions > 0;
    }
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<UserPresence>> Presence::GetStatuses(const std::optional<std::string>& viewer,
                                                                const std::vector<std::string>& users) {
  SB_RETURN_IF_ERROR(ValidateUsers(users));
  if (users.empty()) return std::vector<UserPresence>{};
  if (!viewer) return Statuses(users, nullptr);
  SB_RETURN_IF_ERROR(ValidateUser(*viewer));
  SB_ASSIGN_OR_RETURN(std::vector<std::string> contacts, contacts_.Filter(*viewer, Unique(users)));
  const std::set<std::string> allowed(contacts.begin(), contacts.end());
  std::vector<bool> visible;
  for (const auto& u : users) visible.push_back(allowed.count(u) > 0);
  return Statuses(users, &visible);
}

absl::StatusOr<Presence::WatchResult> Presence::Watch(const std::string& viewer, const std::vector<std::string>& users) {
  SB_RETURN_IF_ERROR(ValidateUser(viewer));
  SB_RETURN_IF_ERROR(ValidateUsers(users));
  WatchResult result;
  const std::vector<std::string> unique = Unique(users);
  if (unique.empty()) return result;
  SB_ASSIGN_OR_RETURN(std::vector<std::string> contacts, contacts_.Filter(viewer, unique));
  const std::set<std::string> allowed_set(contacts.begin(), contacts.end());
  std::vector<std::string> allowed;
  for (const auto& u : unique) {
    if (allowed_set.count(u)) {
      allowed.push_back(u);
    } else {
      result.denied.push_back(u);
    }
  }
  if (!allowed.empty()) {
    const std::vector<bool> visible(allowed.size(), true);
    SB_ASSIGN_OR_RETURN(result.allowed, Statuses(allowed, &visible));
  }
  return result;
}

absl::StatusOr<std::vector<UserPresence>> Presence::GetConversationPresence(const std::string& viewer,
                                                                            int64_t conversation_id) {
  SB_RETURN_IF_ERROR(ValidateUser(viewer));
  if (conversation_id <= 0) return absl::InvalidArgumentError("conversation id: a positive number");
  SB_ASSIGN_OR_RETURN(std::vector<std::string> members, contacts_.ConversationMembers(viewer, conversation_id));
  if (members.size() > kMaxBatch) members.resize(kMaxBatch);
  // Members share the conversation, but blocks still hide users: the same rule as GetStatuses.
  return GetStatuses(viewer, members);
}

absl::StatusOr<Presence::SweepStats> Presence::Sweep() {
  SB_ASSIGN_OR_RETURN(PresenceState::SweepResult r,
                      state_.Sweep(clock_(), options_.debounce, options_.idle_away, options_.sweep_limit));
  Count("expired_session", r.expired_sessions);
  for (const auto& user : r.went_offline) {
    Count("offline");
    PublishState(user, "user:offline");
  }
  for (const auto& user : r.went_away) {
    Count("away");
    PublishState(user, "presence:update");
  }
  if (auto counts = state_.Count(); counts.ok()) {
    online_users_.Get().Set(static_cast<double>(counts->online_users));
    sessions_.Get().Set(static_cast<double>(counts->sessions));
  }
  if (r.expired_sessions > 0) {
    sb::log::Info("expired sessions", {{"sessions", static_cast<int64_t>(r.expired_sessions)}});
  }
  return SweepStats{r.expired_sessions, static_cast<int>(r.went_offline.size()), static_cast<int>(r.went_away.size())};
}

absl::StatusOr<int> Presence::FlushLastSeen() {
  int written = 0;
  for (int round = 0; round < 100; ++round) {  // bounded: the next flush continues
    SB_ASSIGN_OR_RETURN(auto batch, state_.TakeDirtyLastSeen(options_.flush_batch));
    if (batch.empty()) break;
    if (absl::Status s = last_seen_.Upsert(batch); !s.ok()) {
      std::vector<std::string> users;
      for (const auto& [u, ms] : batch) users.push_back(u);
      if (absl::Status again = state_.MarkDirty(users); !again.ok()) {
        sb::log::Error("last seen lost for a batch (postgres and redis failed)",
                       {{"users", static_cast<int64_t>(users.size())}, {"error", again.ToString()}});
      }
      return s;
    }
    written += static_cast<int>(batch.size());
    if (static_cast<int>(batch.size()) < options_.flush_batch) break;
  }
  return written;
}

}  // namespace sb::presence
