// The presence domain's model and what it needs from the outside, as small interfaces (tests
// substitute fakes where a real server is not the point):
//   PresenceState       live sessions and statuses, with every transition decided atomically
//                       (production: Redis Lua scripts, redis_state.h)
//   LastSeenRepository  durable last seen (production: Postgres presence.last_seen, store.h)
//   Contacts            who may see whom, group members (production: the chat service)
//   EventSink           presence events to a user's watchers (production: bus sb:p:{user})
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sb::presence {

enum class Status { kOnline, kAway, kOffline };

// "online" / "away" / "offline".
const char* StatusName(Status status);

struct SessionInfo {
  std::string user_id;
  std::string session_id;
  std::string gateway_id;
  std::string device;
  std::string platform;
  std::optional<absl::Time> last_active;  // renewals: the last client event on the session
};

// A user's presence as one viewer may see it.
struct UserPresence {
  std::string user_id;
  bool is_online = false;
  Status status = Status::kOffline;
  std::optional<int64_t> last_seen_ms;  // epoch ms; unset when never seen (or hidden)
  std::string activity;                 // only while online
  int sessions = 0;                     // internal callers only
  bool connected = false;               // internal callers only
};

class PresenceState {
 public:
  virtual ~PresenceState() = default;

  struct RegisterResult {
    int sessions = 0;
    bool first_session = false;  // the user had no live session before
    bool went_online = false;    // watchers must be told user:online (not during a debounce)
  };
  // Adds (or refreshes, idempotent) the session with a lease until `lease_until`.
  virtual absl::StatusOr<RegisterResult> Register(const SessionInfo& session, absl::Time now,
                                                  absl::Time lease_until) = 0;
  // Removes the session (idempotent; with a non-empty `gateway_id` only if that gateway holds it);
  // returns the user's remaining sessions. When the last one goes, last seen becomes `now` and the
  // offline is scheduled for now + debounce.
  virtual absl::StatusOr<int> Unregister(const std::string& user, const std::string& session_id,
                                         const std::string& gateway_id, absl::Time now, absl::Duration debounce) = 0;

  struct RenewResult {
    std::vector<std::string> unknown_session_ids;  // not (or no longer) registered
    std::vector<std::string> back_online;          // users whose idle "away" ended (presence:update)
  };
  virtual absl::StatusOr<RenewResult> Renew(const std::vector<SessionInfo>& sessions, absl::Time now,
                                            absl::Time lease_until) = 0;

  enum class Change { kNone, kOnline, kOffline, kUpdate };
  // status nullopt: keep it; activity nullopt: keep it. OFFLINE means "appear offline". Returns
  // what watchers must be told.
  virtual absl::StatusOr<Change> SetStatus(const std::string& user, std::optional<Status> status,
                                           std::optional<std::string> activity, absl::Time now) = 0;

  struct SweepResult {
    int expired_sessions = 0;
    std::vector<std::string> went_offline;  // debounce over, still no session: user:offline
    std::vector<std::string> went_away;     // idle too long: presence:update (away)
  };
  // Expires sessions whose lease passed and publishes-due offlines / idle aways, claiming each
  // entry atomically (several presence instances may sweep at once; each entry goes to one).
  virtual absl::StatusOr<SweepResult> Sweep(absl::Time now, absl::Duration debounce, absl::Duration idle_away,
                                            int limit) = 0;

  // The stored truth about a user.
  struct UserState {
    bool published_online = false;  // what watchers were last told (stays true during the debounce)
    int sessions = 0;
    Status status = Status::kOnline;  // chosen status (online / away) while published online
    bool invisible = false;           // appear-offline setting
    std::string activity;
    std::optional<int64_t> last_seen_ms;  // nullopt: not in Redis (ask the LastSeenRepository)
  };
  // One entry per user, in order.
  virtual absl::StatusOr<std::vector<UserState>> Read(const std::vector<std::string>& users) = 0;

  // Puts last-seen values read from the repository back into the cache (never lowers one, and does
  // not mark them for flushing).
  virtual absl::Status CacheLastSeen(const std::vector<std::pair<std::string, int64_t>>& entries) = 0;
  // Up to `limit` last-seen values changed since they were last taken, removed from the dirty set.
  virtual absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> TakeDirtyLastSeen(int limit) = 0;
  // Marks users dirty again (a flush that failed).
  virtual absl::Status MarkDirty(const std::vector<std::string>& users) = 0;

  struct Counts {
    int64_t online_users = 0;  // users with at least one live session
    int64_t sessions = 0;
  };
  virtual absl::StatusOr<Counts> Count() = 0;
};

class LastSeenRepository {
 public:
  virtual ~LastSeenRepository() = default;
  // Upserts keeping the later value, in one statement.
  virtual absl::Status Upsert(const std::vector<std::pair<std::string, int64_t>>& entries) = 0;
  // Known values only.
  virtual absl::StatusOr<std::map<std::string, int64_t>> Get(const std::vector<std::string>& users) = 0;
};

class Contacts {
 public:
  virtual ~Contacts() = default;
  // Which of `candidates` `viewer` may see (shared active conversation, no block; itself always).
  virtual absl::StatusOr<std::vector<std::string>> Filter(const std::string& viewer,
                                                          const std::vector<std::string>& candidates) = 0;
  // The active members of a conversation; PermissionDenied / NotFound when `viewer` is not one.
  virtual absl::StatusOr<std::vector<std::string>> ConversationMembers(const std::string& viewer,
                                                                       int64_t conversation_id) = 0;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Delivers `event` (one JSON argument) to the watchers of `user` (bus channel sb:p:{user}).
  virtual absl::Status PublishPresence(const std::string& user, const std::string& event,
                                       const std::string& payload_json) = 0;
};

}  // namespace sb::presence
