#include "services/gateway/server.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "sb/common/log.h"
#include "sb/common/status.h"
#include "sb/rpc/client.h"

namespace sb::gateway {

namespace sio = sb::socketio::server;
namespace json = boost::json;

GatewayServer::GatewayServer(GatewayConfig config) : config_(std::move(config)), io_(config_.io_threads) {}

GatewayServer::~GatewayServer() { Shutdown(absl::Now() + absl::Seconds(1)); }

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Create(GatewayConfig config) {
  SB_ASSIGN_OR_RETURN(sb::auth::Verifier verifier, sb::auth::Verifier::FromOptions(config.auth));
  std::unique_ptr<GatewayServer> s(new GatewayServer(std::move(config)));
  const GatewayConfig& c = s->config_;

  SB_ASSIGN_OR_RETURN(s->redis_, redis::Client::Create({.url = c.redis_url, .pool_size = c.redis_pool_size}));
  s->pool_ = std::make_unique<sb::BlockingPool>("redis", c.blocking_threads, c.blocking_queue);
  SB_ASSIGN_OR_RETURN(sb::bus::Publisher publisher,
                      sb::bus::Publisher::Create(*s->redis_, {.origin = "gateway/" + c.instance_id,
                                                              .max_stream_length = c.stream_max_length}));
  s->publisher_.emplace(std::move(publisher));
  GatewayServer* self = s.get();
  s->recovery_ = std::make_shared<RedisRecoveryStore>(
      *s->redis_, *s->pool_,
      RedisRecoveryOptions{.window = c.recovery_window, .user_room = UserRoom,
                           .internal_event_prefix = std::string(kInternalEventPrefix),
                           .vet_session = [self](const std::string& user, sio::SessionState state,
                                                 RedisRecoveryOptions::VetDone done) {
                             self->realtime_->VetRecoveredSession(user, std::move(state), std::move(done));
                           }});

  sio::EngineOptions engine_options;
  engine_options.ping_interval = c.ping_interval;
  engine_options.ping_timeout = c.ping_timeout;
  engine_options.max_payload = c.max_payload;
  engine_options.cors_origins = c.allowed_origins.empty() ? std::vector<std::string>{"*"} : c.allowed_origins;
  engine_options.allow_request = [self](const sio::RequestInfo& info) { return self->realtime_->AllowRequest(info); };
  engine_options.on_session_closed = [self](const sio::RequestInfo& info) { self->realtime_->ReleaseRequest(info); };
  s->engine_ = std::make_unique<sio::EngineServer>(s->io_, engine_options);

  sio::ServerOptions server_options;
  server_options.connect_timeout = c.connect_timeout;
  server_options.recovery_store = s->recovery_;
  s->sio_ = std::make_unique<sio::Server>(*s->engine_, server_options);

  RealtimeOptions ro;
  ro.auth_timeout = c.auth_timeout;
  ro.idle_timeout = c.idle_timeout;
  ro.max_rooms_per_socket = c.max_rooms_per_socket;
  ro.max_subscriptions_per_socket = c.max_subscriptions_per_socket;
  ro.event_rate = c.event_rate;
  ro.event_burst = c.event_burst;
  ro.abuse_threshold = c.abuse_threshold;
  ro.max_connections = c.max_connections;
  ro.max_connections_per_ip = c.max_connections_per_ip;
  ro.trusted_proxies = c.trusted_proxies;
  ro.max_connections_per_origin = c.max_connections_per_origin;
  ro.allowed_origins = c.allowed_origins;
  ro.public_room_prefixes = c.public_room_prefixes;
  ro.max_watched_per_socket = c.max_watched_per_socket;
  ChannelSubscriptions channels{
      .subscribe = [self](const std::string& ch) { if (self->bus_) self->bus_->Subscribe(ch); },
      .unsubscribe = [self](const std::string& ch) { if (self->bus_) self->bus_->Unsubscribe(ch); }};
  s->realtime_ = std::make_unique<Realtime>(ro, std::move(verifier), *s->sio_, channels,
                                            sb::metrics::DefaultRegistry());
  if (!c.chat_addr.empty()) {
    sb::rpc::ClientOptions chat_options;
    chat_options.default_timeout = absl::Milliseconds(c.chat_timeout.count());
    // Reads are safe to retry on UNAVAILABLE; SendMessage is too (idempotent on clientMessageId).
    chat_options.idempotent_methods = {"/switchboard.chat.v1.ChatService/GetConversation",
                                       "/switchboard.chat.v1.ChatService/ListConversations",
                                       "/switchboard.chat.v1.ChatService/ListMessages",
                                       "/switchboard.chat.v1.ChatService/GetUnreadCounts",
                                       "/switchboard.chat.v1.ChatService/ListBlocked",
                                       "/switchboard.chat.v1.ChatService/UpsertUser",
                                       "/switchboard.chat.v1.ChatService/SendMessage"};
    SB_ASSIGN_OR_RETURN(auto channel, sb::rpc::MakeChannel(c.chat_addr, chat_options));
    s->chat_ = std::make_unique<ChatClient>(std::move(channel), chat_options.default_timeout, c.max_backend_calls);
    InstallChatHandlers(*s->realtime_, *s->chat_);
    SB_ASSIGN_OR_RETURN(sb::auth::Verifier rest_verifier, sb::auth::Verifier::FromOptions(c.auth));
    s->chat_rest_ = std::make_unique<ChatRest>(std::move(rest_verifier), *s->chat_);
  }
  if (!c.notification_addr.empty()) {
    sb::rpc::ClientOptions notification_options;
    notification_options.default_timeout = absl::Milliseconds(c.notification_timeout.count());
    notification_options.idempotent_methods = {
        "/switchboard.notification.v1.NotificationService/List",
        "/switchboard.notification.v1.NotificationService/GetUnreadCount",
        "/switchboard.notification.v1.NotificationService/GetPreferences",
        "/switchboard.notification.v1.NotificationService/MarkRead",
        "/switchboard.notification.v1.NotificationService/MarkAllRead",
        "/switchboard.notification.v1.NotificationService/UpdatePreferences"};
    SB_ASSIGN_OR_RETURN(auto channel, sb::rpc::MakeChannel(c.notification_addr, notification_options));
    s->notifications_ = std::make_unique<NotificationClient>(std::move(channel), notification_options.default_timeout,
                                                                 c.max_backend_calls);
    SB_ASSIGN_OR_RETURN(sb::auth::Verifier notification_verifier, sb::auth::Verifier::FromOptions(c.auth));
    s->notification_rest_ = std::make_unique<NotificationRest>(std::move(notification_verifier), *s->notifications_);
  }
  if (!c.presence_addr.empty()) {
    sb::rpc::ClientOptions presence_options;
    presence_options.default_timeout = absl::Milliseconds(c.presence_timeout.count());
    // All presence calls are idempotent (register/unregister/renew by session id, set status).
    presence_options.idempotent_methods = {"switchboard.presence.v1.PresenceService/*"};
    SB_ASSIGN_OR_RETURN(auto channel, sb::rpc::MakeChannel(c.presence_addr, presence_options));
    s->presence_ = std::make_unique<PresenceClient>(std::move(channel), presence_options.default_timeout, c.max_backend_calls);
    s->presence_leases_ = std::make_unique<PresenceLeases>(*s->realtime_, *s->presence_, c.instance_id,
                                                           absl::Milliseconds(c.presence_renew_interval.count()));
    s->presence_leases_->Install();
    InstallPresenceHandlers(*s->realtime_, *s->presence_, static_cast<size_t>(c.max_watched_per_socket));
    SB_ASSIGN_OR_RETURN(sb::auth::Verifier presence_verifier, sb::auth::Verifier::FromOptions(c.auth));
    s->presence_rest_ = std::make_unique<PresenceRest>(std::move(presence_verifier), *s->presence_);
  }
  s->realtime_->Install();

  SB_ASSIGN_OR_RETURN(
      s->bus_, sb::bus::BusSubscriber::Create(
                   redis::SubscriberOptions{.url = c.redis_url},
                   [self](const std::string& channel, const sb::bus::Event& event) {
                     self->realtime_->OnBusEvent(channel, event);
                   },
                   [self](bool reconnect) {
                     if (!reconnect) return;
                     // Events published while the subscriber was away reached the users' streams but
                     // not the local sockets: make every client reconnect so that connection state
                     // recovery replays the gap (see docs/gateway.md, "Bus reconnects").
                     size_t closed = self->realtime_->CloseConnectionsForResync();
                     sb::log::Warn("bus reconnected; local connections closed so clients recover missed events",
                                   {{"connections", static_cast<int64_t>(closed)}});
                   }));

  s->admin_ = std::make_unique<sb::metrics::AdminServer>(sb::metrics::AdminServerOptions{});
  sb::metrics::RegisterProcessMetrics(sb::metrics::DefaultRegistry());
  s->AddBackendMetrics("chat", s->chat_.get());
  s->AddBackendMetrics("notification", s->notifications_.get());
  s->AddBackendMetrics("presence", s->presence_.get());
  s->admin_->AddReadinessCheck("redis", [self]() -> absl::Status {
    if (self->bus_ && self->bus_->connected()) return absl::OkStatus();
    return absl::UnavailableError("redis unreachable (bus subscriber not connected)");
  });
  s->admin_->AddRoute("/internal/realtime/metrics", [self](const sb::metrics::HttpRequest&) {
    json::object body = self->realtime_->StatsJson();
    body["instanceId"] = self->config_.instance_id;
    return sb::metrics::HttpResponse{200, "application/json", json::serialize(body), {}};
  });

  sio::HttpServerOptions http_options;
  http_options.host = c.http_host;
  http_options.port = static_cast<uint16_t>(c.http_port);
  http_options.max_body_bytes = std::max<size_t>(c.max_payload * 2, 1'000'000);
  http_options.io_timeout = c.handshake_timeout;
  s->http_ = std::make_unique<sio::HttpServer>(
      s->io_, http_options, s->engine_.get(),
      [self](const sio::Request& request, const sio::RequestInfo& info, sio::Responder respond) {
        self->ServeFallback(request, info, std::move(respond));
      });

  s->service_ = std::make_unique<GatewayService>(*s->publisher_, *s->redis_, *s->pool_, c.instance_id,
                                                 [self] { return self->realtime_->Stats(); });
  s->grpc_ = std::make_unique<sb::rpc::Server>(sb::rpc::ServerOptions{
      .host = c.grpc_host, .port = c.grpc_port, .reflection = c.grpc_reflection});
  s->grpc_->AddService(s->service_.get());
  return s;
}

void GatewayServer::ServeFallback(const sio::Request& request, const sio::RequestInfo& info, sio::Responder respond) {
  if (chat_rest_ && chat_rest_->Handle(request, info, respond)) return;
  if (notification_rest_ && notification_rest_->Handle(request, info, respond)) return;
  if (presence_rest_ && presence_rest_->Handle(request, info, respond)) return;
  sb::metrics::HttpRequest req{info.method, info.target, info.path, request.body()};
  sb::metrics::HttpResponse res = admin_->Handle(req);
  sio::Response out = sio::MakeResponse(static_cast<sio::http::status>(res.status), res.content_type, std::move(res.body));
  for (const auto& [name, value] : res.headers) out.set(name, value);
  respond(std::move(out));
}

absl::Status GatewayServer::Start() {
  SB_ASSIGN_OR_RETURN(uint16_t http_port, http_->Start());
  // From here on Shutdown must drain: the port is bound and I/O threads run.
  started_.store(true);
  for (int i = 0; i < config_.io_threads; ++i) threads_.emplace_back([this] { io_.run(); });
  sweep_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  ScheduleSweep();
  SB_RETURN_IF_ERROR(grpc_->Start());
  if (presence_leases_) presence_leases_->Start();
  sb::log::Info("gateway listening", {{"instance", config_.instance_id},
                                      {"http_port", static_cast<int>(http_port)},
                                      {"grpc_port", grpc_->port()},
                                      {"redis", config_.redis_url}});
  return absl::OkStatus();
}

void GatewayServer::ScheduleSweep() {
  sweep_timer_->expires_after(realtime_->sweep_interval());
  sweep_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_sweep_.load()) return;
    realtime_->Sweep();
    ScheduleSweep();
  });
}

uint16_t GatewayServer::http_port() const { return http_->port(); }
int GatewayServer::grpc_port() const { return grpc_->port(); }

void GatewayServer::Shutdown(absl::Time deadline) {
  {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (!started_.load()) {
    // Create() failed part-way, or Start() failed before binding: nothing listens and no I/O
    // thread runs, so there is nothing to drain. Any member may still be null here.
    bus_.reset();
    if (pool_) pool_->Stop();
    return;
  }
  sb::log::Info("gateway draining", {{"sockets", static_cast<int64_t>(sio_->counters().sockets.load())}});
  admin_->SetDraining();
  realtime_->SetDraining();
  grpc_->SetServing(false);
  http_->StopAccepting();
  // Clients are told the server is going away and reconnect elsewhere; their sessions are saved
  // (on the pool) so another instance can recover them.
  sio_->Close();
  const absl::Time sessions_deadline = std::min(deadline, absl::Now() + absl::Seconds(5));
  // A connection's recovery save is submitted when its socket.io side closes (connections == 0),
  // which may come after the engine dropped the session from its registry.
  while ((engine_->session_count() > 0 || sio_->counters().connections.load() > 0) &&
         absl::Now() < sessions_deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Chat callbacks answer acks and join rooms through Realtime: let them finish first.
  if (chat_) chat_->WaitIdle(std::min(deadline, absl::Now() + absl::Seconds(5)));
  if (notifications_) notifications_->WaitIdle(std::min(deadline, absl::Now() + absl::Seconds(5)));
  // The same for presence: the sockets' unregistrations (sent as they closed) and watch answers.
  if (presence_leases_) presence_leases_->Stop();
  if (presence_) presence_->WaitIdle(std::min(deadline, absl::Now() + absl::Seconds(5)));
  // Saves must reach Redis before the pool stops, or a client reconnecting elsewhere finds nothing.
  if (!recovery_->WaitForPendingSaves(sessions_deadline)) {
    sb::log::Warn("shutdown: recovery saves still pending at the deadline",
                  {{"pending", static_cast<int64_t>(recovery_->pending_saves())}});
  }
  grpc_->Drain(deadline);
  bus_.reset();
  pool_->Stop();  // finishes anything still queued
  stopping_sweep_.store(true);  // a sweep running right now does not re-arm the timer
  boost::asio::post(io_, [this] { sweep_timer_->cancel(); });
  // The WebSocket transports finish their close handshakes on the I/O threads after their sessions
  // are gone; stopping the io_context under them resets connections whose close reply is still
  // unread (the client then sees "transport error"). With the acceptor closed and the sweep timer
  // cancelled, the io_context runs out of work once every transport has ended, so wait for that
  // (bounded: idle HTTP keep-alive connections also hold it until their own timeout).
  const absl::Time io_deadline = std::min(deadline, absl::Now() + absl::Seconds(1));
  while (!io_.stopped() && absl::Now() < io_deadline) absl::SleepFor(absl::Milliseconds(10));
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  sb::log::Info("gateway stopped", {});
}

}  // namespace sb::gateway
