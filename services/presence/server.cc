#include "services/presence/server.h"

#include "absl/strings/str_cat.h"
#include "sb/common/log.h"
#include "sb/common/status.h"
#include "sb/db/migrations.h"
#include "sb/rpc/client.h"
#include "sb/rpc/status.h"

namespace sb::presence {

namespace chatpb = ::switchboard::chat::v1;

absl::Status BusEventSink::PublishPresence(const std::string& user, const std::string& event,
                                           const std::string& payload_json) {
  return publisher_.PublishPresence(user, event, payload_json).status();
}

ChatContacts::ChatContacts(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
    : timeout_(timeout) {
  if (channel) stub_ = chatpb::ChatService::NewStub(std::move(channel));
}

absl::StatusOr<std::vector<std::string>> ChatContacts::Filter(const std::string& viewer,
                                                              const std::vector<std::string>& candidates) {
  if (!stub_) {
    std::vector<std::string> self;
    for (const auto& c : candidates) {
      if (c == viewer) self.push_back(c);
    }
    return self;
  }
  chatpb::FilterContactsRequest req;
  req.set_user_id(viewer);
  for (const auto& c : candidates) req.add_candidate_ids(c);
  chatpb::FilterContactsResponse resp;
  auto ctx = sb::rpc::NewCallContext(timeout_);
  grpc::Status status = stub_->FilterContacts(ctx.get(), req, &resp);
  if (!status.ok()) {
    absl::Status s = sb::rpc::FromGrpcStatus(status);
    // The caller's request was fine; chat failing is a dependency outage.
    if (!absl::IsInvalidArgument(s)) return absl::UnavailableError(absl::StrCat("chat: ", s.message()));
    return s;
  }
  return std::vector<std::string>(resp.contact_ids().begin(), resp.contact_ids().end());
}

absl::StatusOr<std::vector<std::string>> ChatContacts::ConversationMembers(const std::string& viewer,
                                                                           int64_t conversation_id) {
  if (!stub_) return absl::UnavailableError("group presence needs the chat service (SB_CHAT_ADDR)");
  chatpb::GetConversationRequest req;
  req.set_user_id(viewer);
  req.set_conversation_id(conversation_id);
  chatpb::ConversationResponse resp;
  auto ctx = sb::rpc::NewCallContext(timeout_);
  grpc::Status status = stub_->GetConversation(ctx.get(), req, &resp);
  if (!status.ok()) {
    absl::Status s = sb::rpc::FromGrpcStatus(status);
    if (absl::IsPermissionDenied(s) || absl::IsNotFound(s) || absl::IsInvalidArgument(s)) return s;
    return absl::UnavailableError(absl::StrCat("chat: ", s.message()));
  }
  std::vector<std::string> members;
  for (const auto& p : resp.conversation().participants()) members.push_back(p.user().id());
  return members;
}

absl::StatusOr<std::unique_ptr<PresenceServer>> PresenceServer::Create(PresenceConfig config) {
  std::unique_ptr<PresenceServer> s(new PresenceServer(std::move(config)));
  const PresenceConfig& c = s->config_;
  SB_ASSIGN_OR_RETURN(s->db_, sb::db::OpenMigrated(sb::db::PoolOptions{
      .url = c.postgres_url, .max_connections = c.postgres_pool_size, .statement_timeout = c.statement_timeout,
      .application_name = "sb-presence"}, "presence", c.migrations_dir));

  s->pool_ = std::make_unique<sb::BlockingPool>("presence", c.blocking_threads, c.blocking_queue);
  SB_ASSIGN_OR_RETURN(s->redis_, redis::Client::Create({.url = c.redis_url, .pool_size = c.redis_pool_size}));
  SB_ASSIGN_OR_RETURN(sb::bus::Publisher publisher,
                      sb::bus::Publisher::Create(*s->redis_, {.origin = "presence/" + c.instance_id}));
  s->publisher_.emplace(std::move(publisher));
  s->events_ = std::make_unique<BusEventSink>(*s->publisher_);

  std::shared_ptr<grpc::Channel> chat_channel;
  if (!c.chat_addr.empty()) {
    sb::rpc::ClientOptions chat_options;
    chat_options.default_timeout = c.chat_timeout;
    chat_options.idempotent_methods = {"/switchboard.chat.v1.ChatService/FilterContacts",
                                       "/switchboard.chat.v1.ChatService/GetConversation"};
    SB_ASSIGN_OR_RETURN(chat_channel, sb::rpc::MakeChannel(c.chat_addr, chat_options));
  } else {
    sb::log::Warn("SB_CHAT_ADDR is not set: viewers see only themselves, group presence is unavailable", {});
  }
  s->contacts_ = std::make_unique<ChatContacts>(std::move(chat_channel), c.chat_timeout);
  s->state_ = std::make_unique<RedisPresenceState>(*s->redis_);
  s->store_ = std::make_unique<LastSeenStore>(*s->db_);
  s->presence_ = std::make_unique<Presence>(*s->state_, *s->store_, *s->contacts_, *s->events_, c.presence);
  s->service_ = std::make_unique<PresenceService>(*s->presence_, *s->pool_);
  s->grpc_ = std::make_unique<sb::rpc::Server>(
      sb::rpc::ServerOptions{.host = c.grpc_host, .port = c.grpc_port, .reflection = c.grpc_reflection});
  s->grpc_->AddService(s->service_.get());

  s->admin_ = std::make_unique<sb::metrics::AdminServer>(
      sb::metrics::AdminServerOptions{.host = c.http_host, .port = static_cast<uint16_t>(c.http_port)});
  PresenceServer* self = s.get();
  // Flags refreshed by the maintenance thread: checks must not do I/O on the Asio thread.
  s->admin_->AddReadinessCheck("redis", [self]() -> absl::Status {
    return self->redis_ok_.load() ? absl::OkStatus() : absl::UnavailableError("redis unreachable");
  });
  s->admin_->AddReadinessCheck("postgres", [self]() -> absl::Status {
    return self->db_ok_.load() ? absl::OkStatus() : absl::UnavailableError("postgres unreachable");
  });
  return s;
}

PresenceServer::~PresenceServer() { Shutdown(absl::Now() + absl::Seconds(1)); }

absl::Status PresenceServer::Start() {
  SB_RETURN_IF_ERROR(admin_->Start());
  if (absl::Status s = grpc_->Start(); !s.ok()) {
    admin_->Stop();
    return s;
  }
  sweep_ = std::make_unique<sb::PeriodicTask>("presence sweep", config_.sweep_interval, [this] {
    if (auto swept = presence_->Sweep(); !swept.ok()) {
      sb::log::Warn("presence sweep failed", {{"error", swept.status().ToString()}});
    }
  });
  flush_ = std::make_unique<sb::PeriodicTask>("last seen flush", config_.flush_interval,
                                              [this] { FlushLastSeen("last seen flush failed"); });
  readiness_probe_ = std::make_unique<sb::PeriodicTask>("readiness", absl::Seconds(5), [this] {
    redis_ok_.store(redis_->Ping().ok());
    db_ok_.store(sb::db::PostgresReachable(*db_));
  });
  sweep_->Start();
  flush_->Start();
  readiness_probe_->Start();
  started_ = true;
  sb::log::Info("presence listening", {{"grpc_port", grpc_->port()}, {"http_port", config_.http_port},
                                       {"instance", config_.instance_id}});
  return absl::OkStatus();
}

void PresenceServer::FlushLastSeen(const char* what) {
  if (auto flushed = presence_->FlushLastSeen(); !flushed.ok()) {
    sb::log::Warn(what, {{"error", flushed.status().ToString()}});
  }
}

void PresenceServer::Shutdown(absl::Time deadline) {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (!started_) return;
  admin_->SetDraining();
  grpc_->SetServing(false);
  grpc_->Drain(deadline);
  sweep_->Stop();
  flush_->Stop();
  readiness_probe_->Stop();
  // Last seen written since the last flush must not wait for another instance (or be lost with Redis).
  FlushLastSeen("final last seen flush failed");
  pool_->Stop();
  admin_->Stop();
  sb::log::Info("presence stopped", {});
}

}  // namespace sb::presence
