#include "services/gateway/realtime.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sb/auth/errors.h"
#include "sb/bus/channels.h"
#include "sb/common/log.h"

namespace sb::gateway {

namespace json = boost::json;
namespace sio = sb::socketio::server;
using Clock = std::chrono::steady_clock;

std::string UserRoom(const std::string& user) { return "user:" + user; }
std::string PresenceRoom(const std::string& user) { return std::string(kPresenceRoomPrefix) + user; }

namespace {

enum AuthPhase : int { kPending = 0, kAuthenticated = 1, kTimedOut = 2 };

bool StartsWith(std::string_view text, std::string_view prefix) { return text.starts_with(prefix); }

// Where VetRecoveredSession leaves its decisions in a recovered socket's data for RestoreRooms:
// the claimed rooms it allowed, and the events of its refusals ([{event, payload}]).
constexpr std::string_view kVettedRoomsKey = "sb:vettedRooms";
constexpr std::string_view kRoomNoticesKey = "sb:roomNotices";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

json::object Ok(json::value data = json::object{}) { return json::object{{"ok", true}, {"data", std::move(data)}}; }
json::object Err(std::string_view code, std::string_view message) {
  return json::object{{"ok", false}, {"error", json::object{{"code", code}, {"message", message}}}};
}
void Reply(const sio::Ack& ack, json::object body) {
  if (ack) ack(json::array{json::value(std::move(body))});
}

json::value ParsePayload(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::string(text);  // publishers are validated; a raw string beats dropping the event
  return v;
}

// The token a CONNECT presents: auth.token, then "Authorization: Bearer", then ?token=.
// nullopt when none is presented at all.
std::optional<std::string> PresentedToken(const sio::Handshake& hs, const json::object& auth) {
  if (const auto* t = auth.if_contains("token")) {
    if (t->is_string()) return std::string(t->as_string());
    return std::string();  // present but not a string: verified as malformed
  }
  if (auto header = hs.Header("authorization")) {
    std::string value(*header);
    if (value.size() > 7 && absl::EqualsIgnoreCase(absl::string_view(value).substr(0, 7), "bearer ")) {
      return std::string(absl::StripAsciiWhitespace(absl::string_view(value).substr(7)));
    }
    return std::string();  // another scheme: refused as malformed rather than silently ignored
  }
  if (auto query = hs.Query("token")) return std::string(*query);
  return std::nullopt;
}

// Wall-clock ms of a steady-clock NowMs() value (presence wants wall time).
int64_t WallMs(int64_t steady_ms) {
  const int64_t wall_now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return wall_now - (NowMs() - steady_ms);
}

// device / platform of a session: the CONNECT auth payload, else the query; strings ≤ 128 bytes.
std::string HandshakeField(const sio::Handshake& hs, const char* key) {
  std::string value;
  if (const auto* v = hs.auth.if_contains(key); v && v->is_string()) {
    value = std::string(v->as_string());
  } else if (auto q = hs.Query(key)) {
    value = std::string(*q);
  }
  return value.size() <= 128 ? value : std::string();
}

// The room name of a room:join / room:leave: {"room": "..."} or a plain string.
std::optional<std::string> RoomArg(const sio::Message& msg) {
  if (msg.args.empty()) return std::nullopt;
  const auto& first = msg.args[0];
  if (first.is_string()) return std::string(first.as_string());
  if (first.is_object()) {
    if (const auto* r = first.as_object().if_contains("room"); r && r->is_string()) return std::string(r->as_string());
  }
  return std::nullopt;
}

// Client events of DESIGN.md that belong to services not deployed yet (chat, presence).
const char* const kServiceEvents[] = {
    "join:conversation", "leave:conversation", "message:send",     "message:read",
    "message:edit",      "message:delete",     "typing:start",     "typing:stop",
    "presence:online",   "presence:offline",   "presence:away",    "presence:subscribe",
    "presence:unsubscribe", "presence:update"};

}  // namespace

struct Realtime::SocketState {
  SocketState(const RealtimeOptions& o, Clock::time_point now)
      : bucket(o.event_rate, o.event_burst, now), abuse(o.abuse_threshold) {}
  ~SocketState() {
    // Runs also for sockets refused or closed before the connection handler: slots never leak.
    if (origin_slot && per_origin) per_origin->Release(origin);
  }

  // Read by Sweep from other threads.
  std::atomic<int> phase{kPending};
  std::atomic<int64_t> last_activity_ms{NowMs()};
  std::atomic<int64_t> auth_deadline_ms{0};
  std::atomic<bool> evicting{false};

  // Strand only.
  std::string user, username;
  std::string display_name, avatar_url;  // from the token, for the user directory
  std::string origin;
  bool origin_slot = false;
  std::shared_ptr<KeyedLimiter> per_origin;
  std::set<std::string> channels;      // bus channels this socket holds a reference to
  std::set<std::string> public_rooms;  // rooms joined with room:join
  std::set<std::string> watched;       // users whose presence this socket watches
  TokenBucket bucket;
  AbuseTracker abuse;
  bool limited_now = false;  // the event being handled was over the rate
};

namespace {
std::shared_ptr<Realtime::SocketState> StateOf(sio::Socket& socket) {
  if (auto* p = std::any_cast<std::shared_ptr<Realtime::SocketState>>(&socket.user())) return *p;
  return nullptr;
}
}  // namespace

Realtime::Realtime(RealtimeOptions options, sb::auth::Verifier verifier, sio::Server& io, ChannelSubscriptions channels,
                   sb::metrics::Registry& registry)
    : options_(std::move(options)),
      verifier_(std::move(verifier)),
      io_(io),
      root_(io.Of("/")),
      channels_(std::move(channels)),
      origins_(options_.allowed_origins),
      client_addresses_(options_.trusted_proxies),
      per_ip_(std::make_shared<KeyedLimiter>(options_.max_connections_per_ip)),
      per_origin_(std::make_shared<KeyedLimiter>(options_.max_connections_per_origin)),
      refusals_(registry.Counter("sb_gateway_refusals_total",
                                 "Connections, events and requests refused by a guardrail or auth, by reason.",
                                 {"reason"})),
      evictions_(registry.Counter("sb_gateway_evictions_total", "Sockets disconnected by the gateway, by reason.",
                                  {"reason"})),
      bus_events_(registry.Counter("sb_gateway_bus_events_total", "Bus events received, by kind.", {"kind"})),
      auth_results_(registry.Counter("sb_gateway_auth_total", "Socket authentications, by result.", {"result"})),
      recovered_rooms_(registry.Counter("sb_gateway_recovered_rooms_total",
                                        "Claimed rooms brought back by recovered sockets, by outcome.", {"result"})) {
  auto gauge = [&](const char* name, const char* help, std::function<double()> fn) {
    gauges_.push_back(registry.AddGaugeCallback(name, help, std::move(fn)));
  };
  auto counter = [&](const char* name, const char* help, std::function<double()> fn) {
    gauges_.push_back(registry.AddCallback(sb::metrics::MetricType::kCounter, name, help, {}, {}, std::move(fn)));
  };
  gauge("sb_gateway_connections", "Live client connections (Engine.IO sessions).",
        [this] { return static_cast<double>(io_.engine().session_count()); });
  gauge("sb_gateway_sockets", "Live sockets in the \"/\" namespace.",
        [this] { return static_cast<double>(root_.socket_count()); });
  gauge("sb_gateway_rooms", "Rooms with at least one local socket (socket id rooms excluded).",
        [this] { return static_cast<double>(root_.room_count()); });
  gauge("sb_gateway_bus_subscriptions", "Distinct bus channels this instance is subscribed to.", [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(channel_refs_.size());
  });
  counter("sb_gateway_events_in_total", "Socket.IO events received from clients.",
          [this] { return static_cast<double>(io_.counters().events_in.load()); });
  counter("sb_gateway_events_out_total", "Socket.IO events sent to clients.",
          [this] { return static_cast<double>(io_.counters().events_out.load()); });
  counter("sb_gateway_recovered_total", "Sockets resumed by connection state recovery.",
          [this] { return static_cast<double>(io_.counters().recovered.load()); });
}

Realtime::~Realtime() = default;

void Realtime::CountRefusal(std::string_view reason) { refusals_.Labels({std::string(reason)}).Increment(); }

bool Realtime::IsPublicRoom(const std::string& room) const {
  // Presence rooms are joined only through WatchPresence (after the presence service's privacy check).
  if (StartsWith(room, kPresenceRoomPrefix)) return false;
  for (const auto& prefix : options_.public_room_prefixes) {
    if (room.size() > prefix.size() && room.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

std::chrono::milliseconds Realtime::sweep_interval() const {
  auto shortest = options_.auth_timeout;
  if (options_.idle_timeout.count() > 0) shortest = std::min(shortest, options_.idle_timeout);
  return std::clamp(shortest / 5, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
}

std::optional<sio::Refusal> Realtime::AllowRequest(const sio::RequestInfo& request) {
  std::optional<std::string> origin;
  if (auto o = request.Header("origin")) origin = std::string(*o);
  if (!origins_.Allows(origin ? &*origin : nullptr)) {
    CountRefusal("origin_not_allowed");
    return sio::Refusal{403, absl::StrCat("origin not allowed: ", *origin)};
  }
  if (draining_.load()) {
    CountRefusal("draining");
    return sio::Refusal{503, "server is shutting down; reconnect to another instance"};
  }
  if (options_.max_connections > 0 &&
      static_cast<int64_t>(io_.engine().session_count()) >= options_.max_connections) {
    CountRefusal("max_connections");
    return sio::Refusal{503, absl::StrCat("too many connections on this instance (max ", options_.max_connections, ")")};
  }
  // Last: an admitted request always becomes a session, whose close releases the slot
  // (ReleaseRequest). Counting Engine.IO sessions, not sockets, also covers connections that
  // never CONNECT and polling sessions.
  const std::string address = ClientAddressOf(request);
  if (!per_ip_->TryAcquire(address)) {
    CountRefusal("too_many_connections_per_ip");
    return sio::Refusal{403, absl::StrCat("too many connections from ", address, " (max ", per_ip_->limit(), ")")};
  }
  return std::nullopt;
}

std::string Realtime::ClientAddressOf(const sio::RequestInfo& request) const {
  std::optional<std::string> forwarded;
  if (auto h = request.Header("x-forwarded-for")) forwarded = std::string(*h);
  return client_addresses_.ClientAddress(request.remote_address, forwarded ? &*forwarded : nullptr);
}

void Realtime::ReleaseRequest(const sio::RequestInfo& request) { per_ip_->Release(ClientAddressOf(request)); }

void Realtime::Install() {
  root_.Use([this](sio::Socket& socket, const json::object& auth, sio::Next next) {
    Authenticate(socket, auth, std::move(next));
  });
  root_.OnConnection([this](SocketPtr socket) { OnConnection(std::move(socket)); });
}

void Realtime::Authenticate(sio::Socket& socket, const json::object& auth, sio::Next next) {
  auto refuse = [&](std::string_view code, std::string message) {
    CountRefusal(code);
    next(sio::ConnectError{std::move(message), json::value(json::object{{"code", code}})});
  };
  auto state = std::make_shared<SocketState>(options_, Clock::now());
  const sio::Handshake& hs = socket.handshake();

  std::optional<sb::auth::Claims> claims;
  if (std::optional<std::string> token = PresentedToken(hs, auth)) {
    auto verified = verifier_.Verify(*token);
    if (!verified.ok()) {
      std::string code(sb::auth::ReasonCode(sb::auth::RefusalReason(verified.status())));
      if (code.empty()) code = "unauthenticated";
      auth_results_.Labels({code}).Increment();
      return refuse(code, std::string(verified.status().message()));
    }
    claims = std::move(*verified);
  }

  state->per_origin = per_origin_;
  if (auto origin = hs.Header("origin")) {
    state->origin = std::string(*origin);
    if (!per_origin_->TryAcquire(state->origin)) {
      return refuse("too_many_connections_per_origin",
                    absl::StrCat("too many connections from origin ", state->origin, " (max ", per_origin_->limit(), ")"));
    }
    state->origin_slot = true;
  }
  if (claims) {
    state->user = claims->sub;
    state->username = claims->username;
    state->display_name = claims->name;
    state->avatar_url = claims->avatar;
    state->phase = kAuthenticated;
    auth_results_.Labels({"success"}).Increment();
  }
  socket.user() = state;
  next(std::nullopt);
}

void Realtime::OnConnection(SocketPtr socket) {
  std::shared_ptr<SocketState> state = StateOf(*socket);
  if (!state) {
    // A recovered socket (middleware is skipped): its identity comes from the saved data, and it
    // takes an origin slot without the limit check, since it held one before the drop (its
    // connection's per-IP slot was taken by AllowRequest).
    state = std::make_shared<SocketState>(options_, Clock::now());
    state->per_origin = per_origin_;
    if (auto origin = socket->handshake().Header("origin")) {
      state->origin = std::string(*origin);
      per_origin_->Acquire(state->origin);
      state->origin_slot = true;
    }
    if (const auto* data = socket->data().if_object()) {
      if (const auto* u = data->if_contains("user"); u && u->is_string()) state->user = std::string(u->as_string());
      if (const auto* n = data->if_contains("username"); n && n->is_string()) {
        state->username = std::string(n->as_string());
      }
    }
    if (!state->user.empty()) state->phase = kAuthenticated;
    socket->user() = state;
  }
  {
    std::lock_guard lock(mu_);
    sockets_[socket->id()] = Tracked{socket, state, std::nullopt};
  }
  RegisterHandlers(socket);
  socket->OnDisconnect([this](sio::Socket& s, std::string_view reason) { OnDisconnect(s, reason); });

  if (socket->recovered()) RestoreRooms(socket, *state);
  if (state->phase.load() == kAuthenticated) {
    OnAuthenticated(*socket, *state);
  } else {
    state->auth_deadline_ms = NowMs() + options_.auth_timeout.count();
  }
}

const RecoveredRoomCheck* Realtime::CheckFor(const std::string& room) const {
  for (const auto& [prefix, check] : recovered_room_checks_) {
    if (room.size() > prefix.size() && StartsWith(room, prefix)) return &check;
  }
  return nullptr;
}

void Realtime::VetRecoveredSession(const std::string& user, sio::SessionState state,
                                   std::function<void(sio::SessionState)> done) {
  // Shared by the checks' callbacks; the last one to answer finishes the vetting, on its thread.
  struct Vetting {
    std::mutex mu;
    sio::SessionState state;
    std::vector<size_t> claimed;  // indexes into state.rooms
    std::vector<RecoveredRoomVerdict> verdicts;
    size_t unanswered = 0;
    std::function<void(sio::SessionState)> done;
  };
  auto vetting = std::make_shared<Vetting>();
  for (size_t i = 0; i < state.rooms.size(); ++i) {
    if (CheckFor(state.rooms[i])) vetting->claimed.push_back(i);
  }
  vetting->verdicts.resize(vetting->claimed.size());
  vetting->unanswered = vetting->claimed.size();
  vetting->state = std::move(state);
  vetting->done = std::move(done);

  auto finish = [this, user, vetting] {
    sio::SessionState& st = vetting->state;
    json::array vetted, notices;
    std::vector<bool> refused(st.rooms.size(), false);
    for (size_t k = 0; k < vetting->claimed.size(); ++k) {
      const std::string& room = st.rooms[vetting->claimed[k]];
      RecoveredRoomVerdict& verdict = vetting->verdicts[k];
      if (verdict.allowed) {
        vetted.emplace_back(room);
        continue;
      }
      refused[vetting->claimed[k]] = true;
      recovered_rooms_.Labels({"refused"}).Increment();
      sb::log::Info("recovered room refused", {{"sid", st.sid}, {"user", user}, {"room", room}});
      if (!verdict.event.empty()) {
        notices.emplace_back(json::object{{"event", verdict.event}, {"payload", std::move(verdict.payload)}});
      }
    }
    std::vector<std::string> rooms;
    for (size_t i = 0; i < st.rooms.size(); ++i) {
      if (!refused[i]) rooms.push_back(std::move(st.rooms[i]));
    }
    st.rooms = std::move(rooms);
    if (!st.data.is_object()) st.data = json::object{};
    st.data.as_object()[kVettedRoomsKey] = std::move(vetted);
    st.data.as_object()[kRoomNoticesKey] = std::move(notices);
    vetting->done(std::move(st));
  };
  if (vetting->claimed.empty()) return finish();
  // All asked at once: the restore waits for the slowest answer, not for their sum.
  for (size_t k = 0; k < vetting->claimed.size(); ++k) {
    // A copy: once the last check has answered (on another thread) `finish` rewrites state.rooms.
    const std::string room = vetting->state.rooms[vetting->claimed[k]];
    (*CheckFor(room))(user, room, [vetting, k, finish](RecoveredRoomVerdict verdict) {
      {
        std::lock_guard lock(vetting->mu);
        vetting->verdicts[k] = std::move(verdict);
        if (--vetting->unanswered > 0) return;
      }
      finish();
    });
  }
}

void Realtime::RestoreRooms(const SocketPtr& socket, SocketState& state) {
  // What VetRecoveredSession decided (on the pool, before the missed events were read); taken out of
  // the data so a later save does not carry it.
  std::unordered_set<std::string> vetted;
  json::array notices;
  if (auto* data = socket->data().if_object()) {
    if (const auto* v = data->if_contains(kVettedRoomsKey); v && v->is_array()) {
      for (const auto& room : v->as_array()) {
        if (room.is_string()) vetted.emplace(room.as_string());
      }
    }
    if (auto* n = data->if_contains(kRoomNoticesKey); n && n->is_array()) notices = std::move(n->as_array());
    data->erase(kVettedRoomsKey);
    data->erase(kRoomNoticesKey);
  }

  // The user room is joined again by OnAuthenticated; a saved session always has a user (only
  // authenticated sockets are saved), but a room is never kept for a socket without one.
  const std::string own_room = state.user.empty() ? std::string() : UserRoom(state.user);
  for (const auto& room : socket->Rooms()) {
    if (room == socket->id() || (!own_room.empty() && room == own_room)) continue;
    if (state.user.empty()) {
      socket->Leave(room);
      continue;
    }
    if (StartsWith(room, kPresenceRoomPrefix)) {
      // Watches come back with the session (they were authorized before the drop).
      const std::string user = room.substr(kPresenceRoomPrefix.size());
      auto channel = sb::bus::PresenceChannel(user);
      if (channel.ok() && static_cast<int>(state.watched.size()) < options_.max_watched_per_socket) {
        state.watched.insert(user);
        AddChannel(state, *channel, /*capped=*/false);
      } else {
        socket->Leave(room);
      }
      continue;
    }
    if (IsPublicRoom(room)) {
      // Over a limit (another instance may be configured lower): left, since a room without its
      // subscription would silently receive only what others happen to subscribe.
      if (!JoinRoomOnStrand(*socket, state, room).ok()) socket->Leave(room);
      continue;
    }
    if (!CheckFor(room) || !vetted.count(room)) {
      // Nobody vouches for it (its module is not deployed here, or the session came through a
      // store without the vetting hook): a membership without its subscription would deliver only
      // what happens to be subscribed by others.
      recovered_rooms_.Labels({"unclaimed"}).Increment();
      socket->Leave(room);
      continue;
    }
    if (absl::Status joined = JoinRoomOnStrand(*socket, state, room); !joined.ok()) {
      recovered_rooms_.Labels({"over_limit"}).Increment();
      sb::log::Info("recovered room left", {{"sid", socket->id()}, {"room", room}, {"reason", std::string(joined.message())}});
      socket->Leave(room);
      continue;
    }
    recovered_rooms_.Labels({"kept"}).Increment();
  }
  for (auto& notice : notices) {
    const auto* n = notice.if_object();
    const auto* event = n ? n->if_contains("event") : nullptr;
    if (!event || !event->is_string()) continue;
    socket->Emit(std::string(event->as_string()), json::array{n->contains("payload") ? n->at("payload") : json::value()});
  }
}

void Realtime::OnAuthenticated(sio::Socket& socket, SocketState& state) {
  socket.Join(UserRoom(state.user));
  if (auto channel = sb::bus::UserChannel(state.user); channel.ok()) AddChannel(state, *channel);
  socket.data() = json::object{{"user", state.user}, {"username", state.username}};
  socket.Emit("auth:success", json::array{json::object{{"userId", state.user}, {"username", state.username}}});
  if (on_user_authenticated_ && !socket.recovered()) {
    on_user_authenticated_(AuthenticatedUser{state.user, state.username, state.display_name, state.avatar_url});
  }
  ClientSession session{socket.id(), state.user, HandshakeField(socket.handshake(), "device"),
                        HandshakeField(socket.handshake(), "platform"), 0};
  {
    std::lock_guard lock(mu_);
    if (auto it = sockets_.find(socket.id()); it != sockets_.end()) it->second.session = session;
  }
  if (on_session_opened_) on_session_opened_(session);
  sb::log::Debug("socket authenticated", {{"sid", socket.id()}, {"user", state.user}});
}

void Realtime::RegisterHandlers(const SocketPtr& socket) {
  // Runs before the event's handler, on the strand: activity for idle eviction and the rate limit.
  socket->OnAny([this](sio::Socket& s, sio::Message&) {
    auto state = StateOf(s);
    if (!state) return;
    const auto now = Clock::now();
    state->last_activity_ms = NowMs();
    state->limited_now = !state->bucket.TryTake(now);
    if (state->limited_now) CountRefusal("rate_limited");
    if (state->abuse.Record(state->limited_now)) {
      Evict(s.shared_from_this(), "abuse", "too many events over the rate limit");
    }
  });

  // Common checks of every handled event; false when the event was answered with an error.
  auto guard = [this](sio::Socket& s, const sio::Ack& ack, bool need_auth) {
    auto state = StateOf(s);
    if (!state) return false;
    if (state->limited_now) {
      Reply(ack, Err("rate_limited", absl::StrCat("too many events: at most ", options_.event_rate,
                                                  " per second (burst ", options_.event_burst, ")")));
      return false;
    }
    if (need_auth && state->phase.load() != kAuthenticated) {
      Reply(ack, Err("unauthenticated", "authenticate first: send the auth event with {token}"));
      return false;
    }
    return true;
  };

  socket->On("auth", [this, guard](sio::Socket& s, sio::Message& msg, sio::Ack ack) {
    if (guard(s, ack, false)) OnAuthEvent(s, msg, std::move(ack));
  });
  socket->On("room:join", [this, guard](sio::Socket& s, sio::Message& msg, sio::Ack ack) {
    if (guard(s, ack, true)) OnRoomJoin(s, msg, std::move(ack));
  });
  socket->On("room:leave", [this, guard](sio::Socket& s, sio::Message& msg, sio::Ack ack) {
    if (guard(s, ack, true)) OnRoomLeave(s, msg, std::move(ack));
  });
  for (const char* event : kServiceEvents) {
    if (auto it = service_handlers_.find(event); it != service_handlers_.end()) {
      socket->On(event, [guard, handler = it->second](sio::Socket& s, sio::Message& msg, sio::Ack ack) {
        if (!guard(s, ack, true)) return;
        auto state = StateOf(s);
        handler(s.shared_from_this(), state->user, msg, std::move(ack));
      });
      continue;
    }
    socket->On(event, [guard, name = std::string(event)](sio::Socket& s, sio::Message&, sio::Ack ack) {
      if (!guard(s, ack, true)) return;
      Reply(ack, Err("unsupported_event",
                     absl::StrCat("'", name, "' is handled by a service this deployment does not run yet")));
    });
  }
  // Any other event: a client waiting on an ack gets an answer instead of its own timeout.
  socket->OnUnhandled([guard](sio::Socket& s, sio::Message& msg, sio::Ack ack) {
    if (!guard(s, ack, false)) return;
    Reply(ack, Err("unknown_event", absl::StrCat("unknown event: ", msg.event)));
  });
}

void Realtime::OnAuthEvent(sio::Socket& s, sio::Message& msg, sio::Ack ack) {
  auto state = StateOf(s);
  std::string token;
  if (!msg.args.empty()) {
    if (msg.args[0].is_object()) {
      if (const auto* t = msg.args[0].as_object().if_contains("token"); t && t->is_string()) {
        token = std::string(t->as_string());
      }
    } else if (msg.args[0].is_string()) {
      token = std::string(msg.args[0].as_string());
    }
  }
  auto verified = verifier_.Verify(token);
  if (!verified.ok()) {
    std::string code = token.empty() ? "missing_token"
                                     : std::string(sb::auth::ReasonCode(sb::auth::RefusalReason(verified.status())));
    if (code.empty()) code = "unauthenticated";
    std::string message = token.empty() ? "the auth event needs {token}" : std::string(verified.status().message());
    auth_results_.Labels({code}).Increment();
    if (state->phase.load() == kAuthenticated) {
      // A refresh with a bad token: the socket keeps its identity.
      Reply(ack, Err(code, message));
      return;
    }
    CountRefusal(code);
    s.Emit("auth:error", json::array{json::object{{"code", code}, {"message", message}}});
    Reply(ack, Err(code, message));
    s.Disconnect(/*close_connection=*/true);
    return;
  }
  if (state->phase.load() == kAuthenticated) {
    // Token refresh: allowed for the same user only.
    if (verified->sub != state->user) {
      Reply(ack, Err("already_authenticated", "this socket is authenticated as another user"));
      return;
    }
    Reply(ack, Ok(json::object{{"userId", state->user}, {"username", state->username}}));
    return;
  }
  int expected = kPending;
  if (!state->phase.compare_exchange_strong(expected, kAuthenticated)) return;  // timed out meanwhile
  state->user = verified->sub;
  state->username = verified->username;
  state->display_name = verified->name;
  state->avatar_url = verified->avatar;
  auth_results_.Labels({"success"}).Increment();
  OnAuthenticated(s, *state);
  Reply(ack, Ok(json::object{{"userId", state->user}, {"username", state->username}}));
}

void Realtime::SetServiceHandler(const std::string& event, ServiceEventHandler handler) {
  service_handlers_[event] = std::move(handler);
}

void Realtime::SetRecoveredRoomCheck(std::string prefix, RecoveredRoomCheck check) {
  recovered_room_checks_.emplace_back(std::move(prefix), std::move(check));
}

void Realtime::OnUserAuthenticated(std::function<void(const AuthenticatedUser&)> callback) {
  on_user_authenticated_ = std::move(callback);
}

void Realtime::OnSessionOpened(std::function<void(const ClientSession&)> callback) {
  on_session_opened_ = std::move(callback);
}

void Realtime::OnSessionClosed(std::function<void(const ClientSession&)> callback) {
  on_session_closed_ = std::move(callback);
}

std::vector<ClientSession> Realtime::LocalSessions() const {
  std::vector<ClientSession> out;
  std::lock_guard lock(mu_);
  out.reserve(sockets_.size());
  for (const auto& [id, tracked] : sockets_) {
    if (!tracked.session) continue;
    ClientSession s = *tracked.session;
    s.last_active_ms = WallMs(tracked.state->last_activity_ms.load());
    out.push_back(std::move(s));
  }
  return out;
}

void Realtime::WatchPresence(const SocketPtr& socket, std::vector<std::string> users,
                             std::function<void(absl::Status)> done) {
  OnStrand(socket, [this, socket, users = std::move(users), done = std::move(done)] {
    auto state = StateOf(*socket);
    if (!socket->connected() || !state) return done(absl::UnavailableError("socket disconnected"));
    std::set<std::string> fresh;
    for (const auto& u : users) {
      if (!state->watched.count(u) && sb::bus::PresenceChannel(u).ok()) fresh.insert(u);
    }
    if (static_cast<int>(state->watched.size() + fresh.size()) > options_.max_watched_per_socket) {
      CountRefusal("max_watched");
      return done(absl::ResourceExhaustedError(absl::StrCat("watch limit reached (max ", options_.max_watched_per_socket,
                                                            " users per socket, watching ", state->watched.size(), ")")));
    }
    for (const auto& u : fresh) {
      state->watched.insert(u);
      socket->Join(PresenceRoom(u));
      AddChannel(*state, *sb::bus::PresenceChannel(u), /*capped=*/false);
    }
    done(absl::OkStatus());
  });
}

void Realtime::UnwatchPresence(const SocketPtr& socket, std::vector<std::string> users) {
  OnStrand(socket, [this, socket, users = std::move(users)] {
    auto state = StateOf(*socket);
    if (!state) return;
    for (const auto& u : users) {
      if (!state->watched.erase(u)) continue;
      socket->Leave(PresenceRoom(u));
      if (auto channel = sb::bus::PresenceChannel(u); channel.ok()) RemoveChannel(*state, *channel);
    }
  });
}

void Realtime::OnStrand(const SocketPtr& socket, std::function<void()> fn) {
  auto session = io_.engine().FindSession(socket->connection_id());
  if (session) {
    boost::asio::post(session->strand(), std::move(fn));
  } else {
    fn();
  }
}

absl::Status Realtime::JoinRoomOnStrand(sio::Socket& s, SocketState& state, const std::string& room) {
  auto channel = sb::bus::RoomChannel(room);
  if (!channel.ok()) return absl::InvalidArgumentError(std::string(channel.status().message()));
  if (state.public_rooms.count(room)) return absl::OkStatus();
  if (static_cast<int>(state.public_rooms.size()) >= options_.max_rooms_per_socket) {
    CountRefusal("max_rooms");
    return absl::ResourceExhaustedError(
        absl::StrCat("room limit reached (max ", options_.max_rooms_per_socket, " per socket)"));
  }
  if (!AddChannel(state, *channel)) {
    CountRefusal("max_subscriptions");
    return absl::ResourceExhaustedError(
        absl::StrCat("subscription limit reached (max ", options_.max_subscriptions_per_socket, " per socket)"));
  }
  state.public_rooms.insert(room);
  s.Join(room);
  return absl::OkStatus();
}

void Realtime::JoinAuthorizedRoom(const SocketPtr& socket, const std::string& room,
                                  std::function<void(absl::Status)> done) {
  OnStrand(socket, [this, socket, room, done = std::move(done)] {
    auto state = StateOf(*socket);
    if (!socket->connected() || !state) return done(absl::UnavailableError("socket disconnected"));
    done(JoinRoomOnStrand(*socket, *state, room));
  });
}

bool Realtime::LeaveRoomOnStrand(sio::Socket& socket, SocketState& state, const std::string& room) {
  if (!state.public_rooms.erase(room)) return false;
  socket.Leave(room);
  if (auto channel = sb::bus::RoomChannel(room); channel.ok()) RemoveChannel(state, *channel);
  return true;
}

void Realtime::LeaveAuthorizedRoom(const SocketPtr& socket, const std::string& room) {
  OnStrand(socket, [this, socket, room] {
    if (auto state = StateOf(*socket)) LeaveRoomOnStrand(*socket, *state, room);
  });
}

void Realtime::OnLeaveRoomControl(const std::string& user, const json::value& payload) {
  const auto* fields = payload.if_object();
  const auto* room_field = fields ? fields->if_contains("room") : nullptr;
  if (!room_field || !room_field->is_string() || room_field->as_string().empty()) {
    sb::log::Warn("leave-room control event without a room", {{"user", user}});
    return;
  }
  const std::string room(room_field->as_string());
  std::string event;
  json::value event_payload;
  if (const auto* e = fields->if_contains("event"); e && e->is_string()) event = std::string(e->as_string());
  if (const auto* p = fields->if_contains("payload")) event_payload = *p;
  for (const auto& id : root_.To(UserRoom(user)).SocketIds()) {
    SocketPtr socket;
    {
      std::lock_guard lock(mu_);
      if (auto it = sockets_.find(id); it != sockets_.end()) socket = it->second.socket.lock();
    }
    if (!socket) continue;
    OnStrand(socket, [this, socket, room, event, event_payload] {
      auto state = StateOf(*socket);
      if (!state || !LeaveRoomOnStrand(*socket, *state, room)) return;
      // After the leave, on the strand: no event of the room can follow this one.
      if (!event.empty()) socket->Emit(event, json::array{event_payload});
    });
  }
}

void Realtime::OnRoomJoin(sio::Socket& s, sio::Message& msg, sio::Ack ack) {
  auto state = StateOf(s);
  auto room = RoomArg(msg);
  if (!room) return Reply(ack, Err("invalid_argument", "room:join needs {room}"));
  if (!IsPublicRoom(*room)) {
    CountRefusal("room_not_allowed");
    return Reply(ack, Err("forbidden", absl::StrCat("room '", *room, "' is not public (public prefixes: ",
                                                     absl::StrJoin(options_.public_room_prefixes, ", "), ")")));
  }
  if (absl::Status joined = JoinRoomOnStrand(s, *state, *room); !joined.ok()) {
    const bool bad_name = joined.code() == absl::StatusCode::kInvalidArgument;
    return Reply(ack, Err(bad_name ? "invalid_argument" : "limit_exceeded", std::string(joined.message())));
  }
  Reply(ack, Ok(json::object{{"room", *room}}));
}

void Realtime::OnRoomLeave(sio::Socket& s, sio::Message& msg, sio::Ack ack) {
  auto state = StateOf(s);
  auto room = RoomArg(msg);
  if (!room) return Reply(ack, Err("invalid_argument", "room:leave needs {room}"));
  LeaveRoomOnStrand(s, *state, *room);
  Reply(ack, Ok(json::object{{"room", *room}}));
}

void Realtime::OnDisconnect(sio::Socket& s, std::string_view reason) {
  auto state = StateOf(s);
  std::optional<ClientSession> session;
  {
    std::lock_guard lock(mu_);
    if (auto it = sockets_.find(s.id()); it != sockets_.end()) session = std::move(it->second.session);
    sockets_.erase(s.id());
  }
  if (!state) return;
  auto channels = state->channels;
  for (const auto& channel : channels) RemoveChannel(*state, channel);
  state->watched.clear();
  if (session && on_session_closed_) on_session_closed_(*session);
  sb::log::Debug("socket disconnected", {{"sid", s.id()}, {"user", state->user}, {"reason", reason}});
}

bool Realtime::AddChannel(SocketState& state, const std::string& channel, bool capped) {
  if (state.channels.count(channel)) return true;
  // Presence channels (one per watched user) do not count against the subscription limit.
  if (capped && static_cast<int>(state.channels.size() - state.watched.size()) >= options_.max_subscriptions_per_socket) {
    return false;
  }
  state.channels.insert(channel);
  {
    std::lock_guard lock(mu_);
    ++channel_refs_[channel];
  }
  if (channels_.subscribe) channels_.subscribe(channel);
  return true;
}

void Realtime::RemoveChannel(SocketState& state, const std::string& channel) {
  if (!state.channels.erase(channel)) return;
  {
    std::lock_guard lock(mu_);
    auto it = channel_refs_.find(channel);
    if (it != channel_refs_.end() && --it->second <= 0) channel_refs_.erase(it);
  }
  if (channels_.unsubscribe) channels_.unsubscribe(channel);
}

void Realtime::Evict(const SocketPtr& socket, std::string_view code, std::string_view message) {
  auto state = StateOf(*socket);
  if (state && state->evicting.exchange(true)) return;
  evictions_.Labels({std::string(code)}).Increment();
  evictions_total_.fetch_add(1);
  sb::log::Info("socket evicted", {{"sid", socket->id()}, {"reason", message}, {"code", code}});
  // The error event is queued before the DISCONNECT and the close, so the client sees it. The
  // whole Engine.IO connection closes: left open, a client could re-CONNECT on it for a fresh auth
  // window while its per-IP slot is already released.
  socket->Emit("error", json::array{json::object{{"code", code}, {"message", message}}});
  socket->Disconnect(/*close_connection=*/true);
}

size_t Realtime::CloseConnectionsForResync() {
  std::set<std::string> connections;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, tracked] : sockets_) {
      if (auto socket = tracked.socket.lock()) connections.insert(socket->connection_id());
    }
  }
  size_t closed = 0;
  for (const auto& id : connections) {
    if (auto session = io_.engine().FindSession(id)) {
      // Closing the whole Engine.IO connection (not just the socket) keeps the reason recoverable.
      session->Close(std::string(sio::reason::kForcedServerClose));
      ++closed;
    }
  }
  if (closed > 0) evictions_.Labels({"bus_resync"}).Increment(static_cast<double>(closed));
  return closed;
}

void Realtime::Sweep() {
  const int64_t now = NowMs();
  std::vector<std::pair<SocketPtr, std::string>> to_evict;  // socket, "auth" or "idle"
  {
    std::lock_guard lock(mu_);
    for (auto& [id, tracked] : sockets_) {
      auto& st = *tracked.state;
      if (st.evicting.load()) continue;
      if (st.phase.load() == kPending && st.auth_deadline_ms.load() > 0 && now >= st.auth_deadline_ms.load()) {
        int expected = kPending;
        if (st.phase.compare_exchange_strong(expected, kTimedOut)) {
          if (auto s = tracked.socket.lock()) to_evict.emplace_back(std::move(s), "auth");
        }
        continue;
      }
      if (options_.idle_timeout.count() > 0 && now - st.last_activity_ms.load() >= options_.idle_timeout.count()) {
        if (auto s = tracked.socket.lock()) to_evict.emplace_back(std::move(s), "idle");
      }
    }
  }
  for (auto& [socket, why] : to_evict) {
    auto strand_socket = socket;
    // Run on the socket's strand, where its state may be touched.
    auto session = io_.engine().FindSession(socket->connection_id());
    auto run = [this, strand_socket, why = why] {
      if (!strand_socket->connected()) return;
      if (why == "auth") {
        auto state = StateOf(*strand_socket);
        if (state && state->evicting.exchange(true)) return;
        CountRefusal("auth_timeout");
        evictions_.Labels({"auth_timeout"}).Increment();
        evictions_total_.fetch_add(1);
        const std::string message = absl::StrCat("no auth event within ", options_.auth_timeout.count(), " ms");
        strand_socket->Emit("auth:error", json::array{json::object{{"code", "auth_timeout"}, {"message", message}}});
        strand_socket->Disconnect(/*close_connection=*/true);
      } else {
        Evict(strand_socket, "idle_timeout", "idle timeout");
      }
    };
    if (session) {
      boost::asio::post(session->strand(), std::move(run));
    } else {
      run();
    }
  }
}

void Realtime::OnBusEvent(const std::string& channel, const sb::bus::Event& event) {
  if (StartsWith(channel, "sb:u:")) {
    const std::string user = channel.substr(5);
    if (event.name() == kControlDisconnect) {
      bus_events_.Labels({"control"}).Increment();
      std::string reason = "disconnected by the server";
      json::value payload = ParsePayload(event.payload_json());
      if (const auto* o = payload.if_object()) {
        if (const auto* r = o->if_contains("reason"); r && r->is_string() && !r->as_string().empty()) {
          reason = std::string(r->as_string());
        }
      }
      auto op = root_.To(UserRoom(user));
      op.Emit("error", json::array{json::object{{"code", "disconnected"}, {"message", reason}}});
      root_.To(UserRoom(user)).DisconnectSockets(/*close_connection=*/true);
      sb::log::Info("user disconnected by control event", {{"user", user}, {"reason", reason}});
      return;
    }
    if (event.name() == sb::bus::kControlLeaveRoom) {
      bus_events_.Labels({"control"}).Increment();
      OnLeaveRoomControl(user, ParsePayload(event.payload_json()));
      return;
    }
    if (StartsWith(event.name(), kInternalEventPrefix)) {
      bus_events_.Labels({"dropped"}).Increment();
      return;
    }
    bus_events_.Labels({"user"}).Increment();
    auto op = root_.To(UserRoom(user));
    if (!event.offset().empty()) {
      op.EmitWithOffset(event.offset(), event.name(), json::array{ParsePayload(event.payload_json())});
    } else {
      op.Emit(event.name(), json::array{ParsePayload(event.payload_json())});
    }
    return;
  }
  if (StartsWith(channel, "sb:p:")) {
    if (StartsWith(event.name(), kInternalEventPrefix)) {
      bus_events_.Labels({"dropped"}).Increment();
      return;
    }
    bus_events_.Labels({"presence"}).Increment();
    // Only the sockets watching this user are in its presence room (the presence service allowed
    // each of them when they subscribed). No offset, like room events.
    json::value payload = ParsePayload(event.payload_json());
    if (payload.is_string()) payload = json::array{std::move(payload)};
    root_.To(PresenceRoom(channel.substr(5))).Emit(event.name(), json::array{std::move(payload)});
    return;
  }
  if (StartsWith(channel, "sb:r:")) {
    if (StartsWith(event.name(), kInternalEventPrefix)) {
      bus_events_.Labels({"dropped"}).Increment();
      return;
    }
    bus_events_.Labels({"room"}).Increment();
    // Room events carry the offset of their room stream (one id sequence with the user streams), so
    // recovery replays them too. Without one (a publisher of an older version) a bare string as the
    // last argument would be taken by the client for its recovery offset: Publish admits only
    // objects and arrays; wrap anything else.
    json::value payload = ParsePayload(event.payload_json());
    if (payload.is_string()) payload = json::array{std::move(payload)};
    auto op = root_.To(channel.substr(5));
    if (!event.offset().empty()) {
      op.EmitWithOffset(event.offset(), event.name(), json::array{std::move(payload)});
    } else {
      op.Emit(event.name(), json::array{std::move(payload)});
    }
    return;
  }
  bus_events_.Labels({"dropped"}).Increment();
}

RealtimeStats Realtime::Stats() const {
  RealtimeStats s;
  s.connections = static_cast<int64_t>(io_.engine().session_count());
  s.sockets = static_cast<int64_t>(io_.counters().sockets.load());
  for (const auto& [nsp, n] : io_.SocketsPerNamespace()) s.sockets_per_namespace.emplace_back(nsp, n);
  s.rooms = static_cast<int64_t>(root_.room_count());
  s.emits_in = static_cast<int64_t>(io_.counters().events_in.load());
  s.emits_out = static_cast<int64_t>(io_.counters().events_out.load());
  s.evictions = evictions_total_.load();
  {
    std::lock_guard lock(mu_);
    s.bus_subscriptions = static_cast<int64_t>(channel_refs_.size());
    for (const auto& [id, tracked] : sockets_) {
      if (tracked.state->phase.load() == kAuthenticated) ++s.authenticated_sockets;
    }
  }
  refusals_.ForEach([&](const std::vector<std::string>& labels, const sb::metrics::Counter& c) {
    s.refusals_by_reason.emplace_back(labels.empty() ? "" : labels[0], static_cast<int64_t>(c.Value()));
  });
  return s;
}

json::object Realtime::StatsJson() const {
  RealtimeStats s = Stats();
  json::object per_nsp, refusals;
  for (const auto& [k, v] : s.sockets_per_namespace) per_nsp[k] = v;
  for (const auto& [k, v] : s.refusals_by_reason) refusals[k] = v;
  return json::object{{"connections", s.connections},
                      {"sockets", s.sockets},
                      {"authenticatedSockets", s.authenticated_sockets},
                      {"socketsPerNamespace", std::move(per_nsp)},
                      {"rooms", s.rooms},
                      {"busSubscriptions", s.bus_subscriptions},
                      {"emitsIn", s.emits_in},
                      {"emitsOut", s.emits_out},
                      {"evictions", s.evictions},
                      {"refusals", std::move(refusals)}};
}

}  // namespace sb::gateway
