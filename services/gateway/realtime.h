// Realtime: the gateway's domain on top of the Socket.IO server.
//
// - Authentication of sockets ("/" namespace middleware): a JWT from the CONNECT auth.token, an
//   "Authorization: Bearer" header or a `token` query parameter. A bad token is refused with
//   CONNECT_ERROR {"message": <specific>, "data": {"code": <auth::ReasonCode>}}. With no token at all
//   the socket is admitted unauthenticated and must send `auth` {token} within auth_timeout.
// - Each authenticated socket joins room "user:{sub}"; the bus channel sb:u:{sub} is subscribed
//   while the instance holds at least one socket of that user (refcounted by BusSubscriber). What
//   arrives is emitted to the room with the event's stream offset (connection state recovery).
// - Public rooms: `room:join` / `room:leave` {room} for names starting with a configured prefix;
//   the room's bus channel sb:r:{room} is subscribed while a local socket is in it.
// - Control events on a user channel ("sb:control:disconnect") disconnect that user's local sockets;
//   "sb:control:leave-room" (sb/bus/channels.h, kControlLeaveRoom) takes them out of a room;
//   names starting with "sb:" are never forwarded to clients.
// - Guardrails: Origin allow-list, instance connection cap and Engine.IO connections per client
//   address (engine allowRequest hook: every websocket or polling session counts, CONNECTed or
//   not, until it closes; X-Forwarded-For only from trusted_proxies), sockets per Origin
//   (CONNECT_ERROR), rooms and subscriptions per socket, per-socket
//   event rate (token bucket; persistent abuse disconnects), idle eviction, auth timeout. Every
//   eviction (failed auth event, auth timeout, abuse, idle, control disconnect) sends its error
//   event, then a DISCONNECT, then closes the whole Engine.IO connection.
// - Events with no handler are answered {"ok":false,"error":{"code":"unknown_event",...}}.
// - Room events (sb:r:) carry their room stream's offset, like user events (one id sequence for
//   every stream, see sb/bus/publisher.h), and recovery replays them (RedisRecoveryStore); their
//   payloads are JSON objects or arrays (Publish refuses others).
// - Presence watching: WatchPresence joins a socket to room "presence:{user}" and subscribes the
//   bus channel sb:p:{user} (refcounted) for users the presence service allowed; presence events
//   are emitted to that room only, i.e. to the sockets watching that user. Watches count against
//   max_watched_per_socket, not against the room / subscription limits.
// - Recovered rooms: a recovered socket comes back in the rooms of its saved session. Its user room,
//   public rooms and presence rooms are re-subscribed as before; a room whose prefix a handler
//   module claimed (SetRecoveredRoomCheck, e.g. "conversation:") is vetted by the module's check
//   before the missed events are read (VetRecoveredSession, run by the recovery store), re-joined
//   like JoinAuthorizedRoom when allowed, and otherwise gone with its gap; any other room is left at
//   once (never kept without its bus subscription).
// - Session hooks: OnSessionOpened / OnSessionClosed tell the presence wiring about every
//   authenticated socket (with its socket id and handshake device/platform); LocalSessions lists
//   them for lease renewal.
//
// Acks everywhere: {"ok":true,"data":...} or {"ok":false,"error":{"code":...,"message":...}}.
// Threading: handlers run on the sockets' strands; OnBusEvent on the bus thread; Sweep on any
// thread. All public methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/status.h"

#include "sb/auth/verifier.h"
#include "sb/bus/envelope.h"
#include "sb/metrics/metrics.h"
#include "sb/socketio/server/server.h"
#include "services/gateway/guardrails.h"

namespace sb::gateway {

// Internal event names: never forwarded to clients, refused in Publish.
inline constexpr std::string_view kInternalEventPrefix = "sb:";
inline constexpr std::string_view kControlDisconnect = "sb:control:disconnect";

// The Socket.IO room holding every socket of `user`.
std::string UserRoom(const std::string& user);
// The Socket.IO room of the local sockets watching `user`'s presence.
std::string PresenceRoom(const std::string& user);
inline constexpr std::string_view kPresenceRoomPrefix = "presence:";

struct RealtimeOptions {
  std::chrono::milliseconds auth_timeout{10'000};
  std::chrono::milliseconds idle_timeout{3'600'000};  // 0: never
  int max_rooms_per_socket = 100;
  int max_subscriptions_per_socket = 100;
  double event_rate = 20;  // 0: unlimited
  double event_burst = 40;
  int abuse_threshold = 100;
  int64_t max_connections = 0;  // 0: unlimited
  int64_t max_connections_per_ip = 0;  // Engine.IO sessions per client address
  std::vector<std::string> trusted_proxies;  // see ClientAddressPolicy; empty: X-Forwarded-For ignored
  int64_t max_connections_per_origin = 0;
  std::vector<std::string> allowed_origins;  // empty: any
  std::vector<std::string> public_room_prefixes{"public:"};
  int max_watched_per_socket = 200;  // presence:subscribe cap
};

// How Realtime asks for bus channels (BusSubscriber::Subscribe/Unsubscribe in production).
struct ChannelSubscriptions {
  std::function<void(const std::string& channel)> subscribe;
  std::function<void(const std::string& channel)> unsubscribe;
};

// Numbers of this instance, for Stats, /internal/realtime/metrics and tests.
struct RealtimeStats {
  int64_t connections = 0;
  int64_t sockets = 0;
  std::vector<std::pair<std::string, int64_t>> sockets_per_namespace;
  int64_t rooms = 0;
  int64_t bus_subscriptions = 0;  // distinct channels
  int64_t emits_in = 0;
  int64_t emits_out = 0;
  int64_t evictions = 0;
  int64_t authenticated_sockets = 0;
  std::vector<std::pair<std::string, int64_t>> refusals_by_reason;
};

// Identity of an authenticated socket as its token presented it (for the user directory).
struct AuthenticatedUser {
  std::string user_id;
  std::string username;
  std::string display_name;
  std::string avatar_url;
};

// One authenticated socket, as the presence service knows it.
struct ClientSession {
  std::string socket_id;
  std::string user;
  std::string device;    // CONNECT auth.device or ?device= (string ≤ 128 bytes), else empty
  std::string platform;  // CONNECT auth.platform or ?platform=, else empty
  int64_t last_active_ms = 0;  // LocalSessions only: wall-clock ms of the last client event
};

// Handles one client event owned by another service (chat, presence) for the authenticated user
// `user`. Runs on the socket's strand after the guardrails (rate limit, authentication); must not
// block: answer `ack` later from any thread.
using ServiceEventHandler = std::function<void(const std::shared_ptr<socketio::server::Socket>& socket,
                                               const std::string& user, socketio::server::Message& msg,
                                               socketio::server::Ack ack)>;

// The verdict on a room a recovered socket brought back (see Realtime::SetRecoveredRoomCheck).
struct RecoveredRoomVerdict {
  bool allowed = false;
  // Refused only: an event emitted to the socket after it left the room (empty: none), so the
  // client learns it is out and can resync or join again.
  std::string event;
  boost::json::value payload;
};

// Decides whether `user`, whose socket is being recovered, may still be in `room`. Must not block;
// call `done` exactly once, from any thread (inline too), in bounded time (e.g. a call deadline).
using RecoveredRoomCheck = std::function<void(const std::string& user, const std::string& room,
                                              std::function<void(RecoveredRoomVerdict)> done)>;

class Realtime {
 public:
  Realtime(RealtimeOptions options, sb::auth::Verifier verifier, socketio::server::Server& io,
           ChannelSubscriptions channels, sb::metrics::Registry& registry);
  ~Realtime();
  Realtime(const Realtime&) = delete;
  Realtime& operator=(const Realtime&) = delete;

  // Registers the "/" middleware and connection handler. Call once before serving.
  void Install();

  // Before Install(): `handler` answers `event` (one of the service events of DESIGN.md) instead of
  // the "unsupported_event" placeholder.
  void SetServiceHandler(const std::string& event, ServiceEventHandler handler);
  // Before Install(): rooms starting with `prefix` that a recovered socket brings back are kept only
  // when `check` allows it (asked by VetRecoveredSession). An allowed room is re-joined as
  // JoinAuthorizedRoom does (bus channel subscribed, room and subscription limits counted; past a
  // limit it is left); a refused one is never joined, its missed events are not replayed, and the
  // socket gets the verdict's event. Counted in
  // sb_gateway_recovered_rooms_total{result=kept|refused|over_limit|unclaimed}.
  void SetRecoveredRoomCheck(std::string prefix, RecoveredRoomCheck check);
  // The recovery store's vet_session hook (RedisRecoveryOptions): asks the checks of every claimed
  // room of a saved session at once and, when the last has answered (on its thread), calls `done`
  // with the state: refused rooms removed from state.rooms (so their gap is never read) and the
  // verdicts noted in state.data for the recovered socket (read and erased when it connects).
  // Never blocks; as bounded in time as the checks are.
  void VetRecoveredSession(const std::string& user, socketio::server::SessionState state,
                           std::function<void(socketio::server::SessionState)> done);
  // Before Install(): called (on the strand, must not block) when a socket authenticates with a
  // token (CONNECT or the auth event; not for recovered sockets).
  void OnUserAuthenticated(std::function<void(const AuthenticatedUser&)> callback);
  // Before Install(): called on the socket's strand (must not block) when a socket becomes an
  // authenticated session (CONNECT with a token, the auth event, or a recovered socket), and when
  // such a socket disconnects (once per opened session).
  void OnSessionOpened(std::function<void(const ClientSession&)> callback);
  void OnSessionClosed(std::function<void(const ClientSession&)> callback);
  // Every authenticated local socket, with its last activity. Thread-safe.
  std::vector<ClientSession> LocalSessions() const;

  // Watches the presence of `users` (already authorized by the presence service) for `socket`:
  // joins "presence:{user}" and subscribes sb:p:{user}. All or nothing: ResourceExhausted when the
  // socket would watch more than max_watched_per_socket users, Unavailable when it is gone. `done`
  // runs on the socket's strand. Thread-safe.
  void WatchPresence(const std::shared_ptr<socketio::server::Socket>& socket, std::vector<std::string> users,
                     std::function<void(absl::Status)> done);
  // Stops watching (unknown ids are ignored). Thread-safe.
  void UnwatchPresence(const std::shared_ptr<socketio::server::Socket>& socket, std::vector<std::string> users);

  // Joins `socket` to a room the caller has authorized (e.g. "conversation:42" once chat confirmed
  // participation): like room:join it subscribes the room's bus channel and counts against the
  // per-socket room and subscription limits. Runs on the socket's strand; `done` gets OK or
  // ResourceExhausted (limit) / Unavailable (socket gone). Thread-safe.
  void JoinAuthorizedRoom(const std::shared_ptr<socketio::server::Socket>& socket, const std::string& room,
                          std::function<void(absl::Status)> done);
  // Leaves a room joined with JoinAuthorizedRoom (or room:join). Thread-safe.
  void LeaveAuthorizedRoom(const std::shared_ptr<socketio::server::Socket>& socket, const std::string& room);

  // The engine's allowRequest hook: Origin allow-list (403), draining and the instance connection
  // cap (503), connections per client address (403 "too many connections from <ip> (max N)").
  // Every refusal is counted by reason. An admitted request holds a per-address slot until
  // ReleaseRequest.
  std::optional<socketio::server::Refusal> AllowRequest(const socketio::server::RequestInfo& request);
  // The engine's on_session_closed hook: releases the slot AllowRequest took for the session.
  void ReleaseRequest(const socketio::server::RequestInfo& request);
  // Live Engine.IO sessions counted for `address` (tests, metrics).
  int64_t connections_from(const std::string& address) const { return per_ip_->count(address); }

  // Delivers one bus event (BusSubscriber's handler).
  void OnBusEvent(const std::string& channel, const sb::bus::Event& event);

  // After the bus subscriber reconnected: events published while it was disconnected never reached
  // the local sockets. Closes every local connection with a recoverable reason ("forced server
  // close": the session is saved, the client sees "transport close" and reconnects), so connection
  // state recovery replays the gap from each user's stream. Returns the number of connections
  // closed. Thread-safe.
  size_t CloseConnectionsForResync();

  // Disconnects sockets past their auth deadline or idle for too long. Call periodically.
  void Sweep();
  // How often Sweep should run for the configured timeouts.
  std::chrono::milliseconds sweep_interval() const;

  // Refuse new connections from now on (shutdown).
  void SetDraining() { draining_.store(true); }

  RealtimeStats Stats() const;
  boost::json::object StatsJson() const;

  struct SocketState;  // per-socket state, defined in realtime.cc

 private:
  using SocketPtr = std::shared_ptr<socketio::server::Socket>;

  void Authenticate(socketio::server::Socket& socket, const boost::json::object& auth, socketio::server::Next next);
  void OnConnection(SocketPtr socket);
  void RegisterHandlers(const SocketPtr& socket);
  void OnAuthenticated(socketio::server::Socket& socket, SocketState& state);
  void OnAuthEvent(socketio::server::Socket& socket, socketio::server::Message& msg, socketio::server::Ack ack);
  void OnRoomJoin(socketio::server::Socket& socket, socketio::server::Message& msg, socketio::server::Ack ack);
  void OnRoomLeave(socketio::server::Socket& socket, socketio::server::Message& msg, socketio::server::Ack ack);
  void OnDisconnect(socketio::server::Socket& socket, std::string_view reason);
  void Evict(const SocketPtr& socket, std::string_view code, std::string_view message);

  // capped: counts against max_subscriptions_per_socket (presence watches have their own cap).
  bool AddChannel(SocketState& state, const std::string& channel, bool capped = true);
  void RemoveChannel(SocketState& state, const std::string& channel);
  bool IsPublicRoom(const std::string& room) const;
  void CountRefusal(std::string_view reason);
  std::string ClientAddressOf(const socketio::server::RequestInfo& request) const;

  RealtimeOptions options_;
  sb::auth::Verifier verifier_;
  socketio::server::Server& io_;
  socketio::server::Namespace& root_;
  ChannelSubscriptions channels_;
  OriginPolicy origins_;
  ClientAddressPolicy client_addresses_;
  std::shared_ptr<KeyedLimiter> per_ip_;  // Engine.IO sessions per client address
  std::shared_ptr<KeyedLimiter> per_origin_;
  std::atomic<bool> draining_{false};

  sb::metrics::CounterFamily& refusals_;
  sb::metrics::CounterFamily& evictions_;
  sb::metrics::CounterFamily& bus_events_;
  sb::metrics::CounterFamily& auth_results_;
  sb::metrics::CounterFamily& recovered_rooms_;
  std::vector<sb::metrics::CallbackHandle> gauges_;

  mutable std::mutex mu_;
  // Live sockets of "/", for Sweep (weak: the server owns them).
  struct Tracked {
    std::weak_ptr<socketio::server::Socket> socket;
    std::shared_ptr<SocketState> state;
    std::optional<ClientSession> session;  // set once authenticated
  };
  std::unordered_map<std::string, Tracked> sockets_;      // guarded by mu_
  std::unordered_map<std::string, int> channel_refs_;     // guarded by mu_
  std::atomic<int64_t> evictions_total_{0};
  std::unordered_map<std::string, ServiceEventHandler> service_handlers_;  // set before Install
  std::function<void(const AuthenticatedUser&)> on_user_authenticated_;  // set before Install
  std::function<void(const ClientSession&)> on_session_opened_, on_session_closed_;  // set before Install
  std::vector<std::pair<std::string, RecoveredRoomCheck>> recovered_room_checks_;    // set before Install
  // Re-subscribes or leaves each room a recovered socket brought back and emits the refusals
  // VetRecoveredSession noted (strand).
  void RestoreRooms(const SocketPtr& socket, SocketState& state);
  // The check claiming `room`, or null.
  const RecoveredRoomCheck* CheckFor(const std::string& room) const;
  // sb:control:leave-room for `user` (bus thread): each local socket of the user leaves the room on
  // its strand, then gets the payload's event.
  void OnLeaveRoomControl(const std::string& user, const boost::json::value& payload);
  // Leaves `room` if the socket is in it (as a public or authorized room) and releases its bus
  // channel; false when it was not in it (strand).
  bool LeaveRoomOnStrand(socketio::server::Socket& socket, SocketState& state, const std::string& room);
  // Runs `fn` on the socket's strand (inline when the session is gone).
  void OnStrand(const SocketPtr& socket, std::function<void()> fn);
  absl::Status JoinRoomOnStrand(socketio::server::Socket& socket, SocketState& state, const std::string& room);
};

}  // namespace sb::gateway
