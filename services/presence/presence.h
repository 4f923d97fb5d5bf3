// Presence: the domain of sb-presence. Validates input, runs the state transition (atomic in the
// PresenceState), tells watchers through the EventSink, applies the privacy rules (Contacts) and
// keeps last seen durable (LastSeenRepository). No gRPC, Redis or libpqxx types; every method
// blocks (call it on a BlockingPool thread). Thread-safe and stateless apart from its options:
// several instances may serve the same users.
//
// Events (one JSON object each, on the bus channel sb:p:{user}):
//   user:online      {userId, status, lastSeen?}      the user became visible online
//   user:offline     {userId, lastSeen}               last session gone (after the debounce), or
//                                                     the user turned on appear-offline
//   presence:update  {userId, status, activity, lastSeen}  status / activity changed while online
// lastSeen is RFC 3339 UTC with milliseconds. Event delivery is best effort after the state
// change: a bus failure is logged and counted, the change stands.
//
// Privacy: with a viewer, users that are not the viewer's contacts (Contacts::Filter) and users
// appearing offline look offline ({isOnline:false, status:offline}, no activity); non-contacts
// also show no last seen. Without a viewer (internal callers) the truth is returned, including
// `connected` and `sessions`.
//
// Errors: InvalidArgument (empty / > 128-byte / non-UTF-8 ids, NUL in session ids, > 1,000 ids,
// activity > 256 bytes, bad status), PermissionDenied / NotFound (group presence of a conversation
// the viewer is not in), Unavailable (Redis, Postgres or chat down).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/metrics/metrics.h"
#include "services/presence/ports.h"

namespace sb::presence {

inline constexpr size_t kMaxBatch = 1000;
inline constexpr size_t kMaxActivityBytes = 256;

struct PresenceOptions {
  absl::Duration lease = absl::Seconds(60);       // a session not renewed within it expires
  absl::Duration debounce = absl::Seconds(4);     // offline published only if no session came back
  absl::Duration idle_away = absl::Minutes(5);    // online users idle this long become away; 0: never
  int sweep_limit = 1000;                         // entries claimed per sweep step
  int flush_batch = 500;                          // last-seen rows per Postgres statement
};

// RFC 3339 UTC with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string FormatTime(int64_t epoch_ms);

class Presence {
 public:
  using Clock = std::function<absl::Time()>;
  // Every reference must outlive the Presence.
  Presence(PresenceState& state, LastSeenRepository& last_seen, Contacts& contacts, EventSink& events,
           PresenceOptions options, sb::metrics::Registry& registry = sb::metrics::DefaultRegistry(),
           Clock clock = [] { return absl::Now(); });

  // true when this was the user's first live session.
  absl::StatusOr<bool> RegisterSession(const SessionInfo& session);
  // The user's remaining sessions. A non-empty gateway_id removes the session only if that gateway
  // holds it.
  absl::StatusOr<int> UnregisterSession(const std::string& user, const std::string& session_id,
                                        const std::string& gateway_id = "");
  // The session ids presence does not know (the gateway re-registers them).
  absl::StatusOr<std::vector<std::string>> RenewSessions(const std::string& gateway_id,
                                                         const std::vector<SessionInfo>& sessions);
  // status nullopt: keep; kOffline: appear offline. The user's presence as they see themselves.
  absl::StatusOr<UserPresence> SetStatus(const std::string& user, std::optional<Status> status,
                                         const std::string& activity);

  // viewer nullopt: internal caller. Request order (duplicates answered each time).
  absl::StatusOr<std::vector<UserPresence>> GetStatuses(const std::optional<std::string>& viewer,
                                                        const std::vector<std::string>& users);
  struct WatchResult {
    std::vector<UserPresence> allowed;
    std::vector<std::string> denied;
  };
  absl::StatusOr<WatchResult> Watch(const std::string& viewer, const std::vector<std::string>& users);
  absl::StatusOr<std::vector<UserPresence>> GetConversationPresence(const std::string& viewer,
                                                                    int64_t conversation_id);

  // One maintenance step (call every ~second from any instance): expires leases, publishes due
  // offlines and idle aways, refreshes the gauges.
  struct SweepStats {
    int expired_sessions = 0;
    int offline = 0;
    int away = 0;
  };
  absl::StatusOr<SweepStats> Sweep();
  // Writes changed last-seen values to the repository (batches of flush_batch) until none is left
  // or a write fails (those users are marked again). Returns the number written.
  absl::StatusOr<int> FlushLastSeen();

 private:
  absl::StatusOr<std::vector<UserPresence>> Statuses(const std::vector<std::string>& users,
                                                     const std::vector<bool>* visible);
  void Publish(const std::string& user, const std::string& event, std::string payload);
  void PublishState(const std::string& user, const char* event);  // reads the state for the payload
  void Count(const char* kind, double n = 1);

  PresenceState& state_;
  LastSeenRepository& last_seen_;
  Contacts& contacts_;
  EventSink& events_;
  PresenceOptions options_;
  Clock clock_;
  sb::metrics::CounterFamily& transitions_;
  sb::metrics::CounterFamily& publish_failures_;
  sb::metrics::GaugeFamily& online_users_;
  sb::metrics::GaugeFamily& sessions_;
};

}  // namespace sb::presence
