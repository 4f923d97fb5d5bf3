// RedisPresenceState: PresenceState in Redis. Every transition is one Lua script (atomic on the
// server), so any number of presence instances may serve the same users: nothing is decided from
// in-process state. Keys (prefix sb:pr:, single Redis; the scripts touch per-user keys they derive
// from the ids, so this layout is not Redis Cluster ready):
//   sb:pr:s:{user}   HASH session id -> "gateway\tdevice\tplatform"
//   sb:pr:u:{user}   HASH st (online|away), auto (1: away because idle), since (ms of the last
//                    status change), inv (1: appear offline), act (activity), pub (1: watchers were
//                    told online). Expires 7 days after the user's last session ends.
//   sb:pr:lease      ZSET "{session id}\0{user}" -> lease expiry (ms)
//   sb:pr:pending    ZSET user -> when to publish user:offline (debounce)
//   sb:pr:active     ZSET user -> last activity (ms), users online and not away (idle rule)
//   sb:pr:online     SET users with at least one session
//   sb:pr:ls         HASH user -> last seen (ms);  sb:pr:dirty  SET users to flush to Postgres
// Thread-safe (the client is). Session ids must not contain NUL (the domain checks).
#pragma once

#include "sb/redis/client.h"
#include "sb/redis/script.h"
#include "services/presence/ports.h"

namespace sb::presence {

class RedisPresenceState : public PresenceState {
 public:
  explicit RedisPresenceState(redis::Client& redis);

  absl::StatusOr<RegisterResult> Register(const SessionInfo& session, absl::Time now, absl::Time lease_until) override;
  absl::StatusOr<int> Unregister(const std::string& user, const std::string& session_id, const std::string& gateway_id,
                                 absl::Time now, absl::Duration debounce) override;
  absl::StatusOr<RenewResult> Renew(const std::vector<SessionInfo>& sessions, absl::Time now,
                                    absl::Time lease_until) override;
  absl::StatusOr<Change> SetStatus(const std::string& user, std::optional<Status> status,
                                   std::optional<std::string> activity, absl::Time now) override;
  absl::StatusOr<SweepResult> Sweep(absl::Time now, absl::Duration debounce, absl::Duration idle_away,
                                    int limit) override;
  absl::StatusOr<std::vector<UserState>> Read(const std::vector<std::string>& users) override;
  absl::Status CacheLastSeen(const std::vector<std::pair<std::string, int64_t>>& entries) override;
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> TakeDirtyLastSeen(int limit) override;
  absl::Status MarkDirty(const std::vector<std::string>& users) override;
  absl::StatusOr<Counts> Count() override;

 private:
  redis::Client& redis_;
  redis::Script register_, unregister_, renew_, set_status_, sweep_, cache_ls_, take_dirty_;
};

}  // namespace sb::presence
