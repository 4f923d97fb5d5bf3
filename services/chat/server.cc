#include "services/chat/server.h"

#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/bus/liveness.h"
#include "sb/rpc/client.h"
#include "sb/common/log.h"
#include "sb/common/status.h"
#include "sb/db/migrations.h"

namespace sb::chat {

absl::Status BusEventSink::PublishToUsers(const std::vector<std::string>& users, const std::string& event,
                                          const std::string& payload_json) {
  return publisher_.PublishToUsers(users, event, payload_json).status();
}

absl::Status BusEventSink::PublishBatch(const std::vector<Delivery>& deliveries) {
  std::vector<sb::bus::UserEvent> events;
  for (const auto& d : deliveries) {
    if (!d.users.empty()) events.push_back({d.users, d.event, d.payload_json});
  }
  if (events.empty()) return absl::OkStatus();
  return publisher_.PublishBatch(events).status();
}

absl::StatusOr<std::vector<bool>> BusPresence::AreOnline(const std::vector<std::string>& users) {
  return sb::bus::UsersWithLiveSessions(redis_, users);
}

absl::StatusOr<std::unique_ptr<ChatServer>> ChatServer::Create(ChatConfig config) {
  std::unique_ptr<ChatServer> s(new ChatServer(std::move(config)));
  const ChatConfig& c = s->config_;
  SB_ASSIGN_OR_RETURN(s->db_, sb::db::OpenMigrated(sb::db::PoolOptions{
      .url = c.postgres_url, .max_connections = c.postgres_pool_size, .statement_timeout = c.statement_timeout,
      .application_name = "sb-chat"}, "chat", c.migrations_dir));

  s->pool_ = std::make_unique<sb::BlockingPool>("db", c.postgres_pool_size, c.blocking_queue);
  SB_ASSIGN_OR_RETURN(s->redis_, redis::Client::Create({.url = c.redis_url, .pool_size = c.redis_pool_size}));
  SB_ASSIGN_OR_RETURN(sb::bus::Publisher publisher,
                      sb::bus::Publisher::Create(*s->redis_, {.origin = "chat/" + c.instance_id,
                                                              .max_stream_length = c.stream_max_length}));
  s->publisher_.emplace(std::move(publisher));
  s->events_ = std::make_unique<BusEventSink>(*s->publisher_);
  s->presence_ = std::make_unique<BusPresence>(*s->redis_);
  s->store_ = std::make_unique<ChatStore>(*s->db_);
  OfflineNotifier* notifier = &s->notifier_;
  if (!c.notification_addr.empty()) {
    sb::rpc::ClientOptions notification_options;
    notification_options.default_timeout = c.notification_timeout;
    // Safe to retry: the notification service dedupes on the message id.
    notification_options.idempotent_methods = {"/switchboard.notification.v1.NotificationService/NotifyNewMessage"};
    SB_ASSIGN_OR_RETURN(auto channel, sb::rpc::MakeChannel(c.notification_addr, notification_options));
    s->remote_notifier_ = std::make_unique<NotificationNotifier>(std::move(channel), c.notification_timeout);
    notifier = s->remote_notifier_.get();
  }
  s->send_rate_ = std::make_unique<RedisSendRateCounter>(*s->redis_, c.chat.moderation, c.instance_id);
  ChatOptions chat_options = c.chat;
  chat_options.send_rate_counter = s->send_rate_.get();  // one limit per user across replicas
  s->chat_ = std::make_unique<Chat>(*s->store_, *s->events_, *s->presence_, *notifier, chat_options);
  s->service_ = std::make_unique<ChatService>(*s->chat_, *s->pool_);
  s->grpc_ = std::make_unique<sb::rpc::Server>(
      sb::rpc::ServerOptions{.host = c.grpc_host, .port = c.grpc_port, .reflection = c.grpc_reflection});
  s->grpc_->AddService(s->service_.get());

  s->admin_ = std::make_unique<sb::metrics::AdminServer>(
      sb::metrics::AdminServerOptions{.host = c.http_host, .port = static_cast<uint16_t>(c.http_port)});
  ChatServer* self = s.get();
  // Readiness reads a flag the typing thread refreshes (checks must not query on the Asio thread).
  s->admin_->AddReadinessCheck("postgres", [self]() -> absl::Status {
    return self->db_ok_.load() ? absl::OkStatus() : absl::UnavailableError("postgres unreachable");
  });
  return s;
}

ChatServer::~ChatServer() { Shutdown(absl::Now() + absl::Seconds(1)); }

absl::Status ChatServer::Start() {
  SB_RETURN_IF_ERROR(admin_->Start());
  if (absl::Status s = grpc_->Start(); !s.ok()) {
    admin_->Stop();
    return s;
  }
  typing_expiry_ = std::make_unique<sb::PeriodicTask>("typing expiry", absl::Milliseconds(250),
                                                      [this] { chat_->ExpireTyping(); });
  readiness_probe_ = std::make_unique<sb::PeriodicTask>("postgres readiness", absl::Seconds(5),
                                                        [this] { db_ok_.store(sb::db::PostgresReachable(*db_)); });
  typing_expiry_->Start();
  readiness_probe_->Start();
  started_ = true;
  sb::log::Info("chat listening", {{"grpc_port", grpc_->port()}, {"http_port", config_.http_port},
                                   {"instance", config_.instance_id}});
  return absl::OkStatus();
}

void ChatServer::Shutdown(absl::Time deadline) {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  // Create() may have failed half-way (e.g. migrations): only stop what exists and was started.
  if (!started_) return;
  admin_->SetDraining();
  grpc_->SetServing(false);
  grpc_->Drain(deadline);
  typing_expiry_->Stop();
  readiness_probe_->Stop();
  pool_->Stop();
  chat_->StopSends();  // stores and publishes what the pool queued
  if (remote_notifier_) remote_notifier_->WaitIdle(deadline);  // notifications of the last sends
  admin_->Stop();
  sb::log::Info("chat stopped", {});
}

}  // namespace sb::chat
