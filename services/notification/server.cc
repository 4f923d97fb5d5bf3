#include "services/notification/server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sb/bus/liveness.h"
#include "sb/common/log.h"
#include "sb/common/status.h"
#include "sb/db/migrations.h"
#include "sb/metrics/metrics.h"
#include "sb/rpc/client.h"

namespace sb::notification {

namespace presence_pb = ::switchboard::presence::v1;

absl::Status BusEventSink::PublishToUser(const std::string& user, const std::string& event, const std::string& payload) {
  return publisher_.PublishToUser(user, event, payload).status();
}

absl::Status BusEventSink::PublishToUsers(const std::vector<std::string>& users, const std::string& event,
                                          const std::string& payload) {
  if (users.empty()) return absl::OkStatus();
  return publisher_.PublishToUsers(users, event, payload).status();
}

absl::Status BusEventSink::PublishAll(const std::vector<Delivery>& deliveries) {
  // Each entry its own event (own id), sent in pipelined batches by the Publisher: a
  // 10,000-recipient announcement is ~40 round trips, not 10,000.
  std::vector<sb::bus::UserEvent> events;
  events.reserve(deliveries.size());
  for (const auto& d : deliveries) events.push_back({{d.user}, d.event, d.payload_json});
  return publisher_.PublishBatch(events).status();
}

absl::StatusOr<std::vector<bool>> BusSessionDirectory::HaveLiveSessions(const std::vector<std::string>& users) {
  return sb::bus::UsersWithLiveSessions(redis_, users);
}

PresenceSessionDirectory::PresenceSessionDirectory(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout,
                                                   SessionDirectory& fallback)
    : stub_(presence_pb::PresenceService::NewStub(std::move(channel))), timeout_(timeout), fallback_(fallback) {}

absl::StatusOr<std::vector<bool>> PresenceSessionDirectory::HaveLiveSessions(const std::vector<std::string>& users) {
  static auto& fallbacks = sb::metrics::DefaultRegistry().Counter(
      "sb_notification_presence_fallbacks_total", "Live-session questions answered by the bus because presence failed.",
      {});
  std::vector<bool> live;
  live.reserve(users.size());
  constexpr size_t kPerCall = 1000;  // presence's GetStatuses limit
  for (size_t begin = 0; begin < users.size(); begin += kPerCall) {
    presence_pb::GetStatusesRequest request;
    const size_t end = std::min(users.size(), begin + kPerCall);
    for (size_t i = begin; i < end; ++i) request.add_user_ids(users[i]);
    presence_pb::GetStatusesResponse response;
    auto context = sb::rpc::NewCallContext(timeout_);
    grpc::Status status = stub_->GetStatuses(context.get(), request, &response);
    std::map<std::string, bool> connected;
    if (status.ok()) {
      for (const auto& u : response.users()) connected[u.user_id()] = u.connected();
    }
    if (!status.ok()) {
      fallbacks.Get().Increment();
      sb::log::Warn("presence GetStatuses failed; asking the bus",
                    {{"code", static_cast<int>(status.error_code())}, {"error", status.error_message()}});
      auto from_bus = fallback_.HaveLiveSessions(std::vector<std::string>(users.begin() + begin, users.begin() + end));
      if (!from_bus.ok()) return from_bus.status();
      live.insert(live.end(), from_bus->begin(), from_bus->end());
      continue;
    }
    for (size_t i = begin; i < end; ++i) live.push_back(connected.count(users[i]) > 0 && connected[users[i]]);
  }
  return live;
}

absl::StatusOr<std::unique_ptr<NotificationServer>> NotificationServer::Create(NotificationConfig config) {
  std::unique_ptr<NotificationServer> s(new NotificationServer(std::move(config)));
  const NotificationConfig& c = s->config_;
  SB_ASSIGN_OR_RETURN(s->db_, sb::db::OpenMigrated(sb::db::PoolOptions{
      .url = c.postgres_url, .max_connections = c.postgres_pool_size, .statement_timeout = c.statement_timeout,
      .application_name = "sb-notification"}, "notification", c.migrations_dir));

  s->pool_ = std::make_unique<sb::BlockingPool>("db", c.postgres_pool_size, c.blocking_queue);
  SB_ASSIGN_OR_RETURN(s->redis_, redis::Client::Create({.url = c.redis_url, .pool_size = c.redis_pool_size}));
  SB_ASSIGN_OR_RETURN(sb::bus::Publisher publisher,
                      sb::bus::Publisher::Create(*s->redis_, {.origin = "notification/" + c.instance_id,
                                                              .max_stream_length = c.stream_max_length}));
  s->publisher_.emplace(std::move(publisher));
  s->events_ = std::make_unique<BusEventSink>(*s->publisher_);
  s->bus_sessions_ = std::make_unique<BusSessionDirectory>(*s->redis_);
  SessionDirectory* sessions = s->bus_sessions_.get();
  if (!c.presence_addr.empty()) {
    sb::rpc::ClientOptions presence_options;
    presence_options.default_timeout = c.presence_timeout;
    presence_options.idempotent_methods = {"/switchboard.presence.v1.PresenceService/GetStatuses"};
    SB_ASSIGN_OR_RETURN(auto channel, sb::rpc::MakeChannel(c.presence_addr, presence_options));
    s->presence_sessions_ =
        std::make_unique<PresenceSessionDirectory>(std::move(channel), c.presence_timeout, *s->bus_sessions_);
    sessions = s->presence_sessions_.get();
  }
  s->store_ = std::make_unique<NotificationStore>(*s->db_);
  s->notifications_ = std::make_unique<Notifications>(*s->store_, *s->events_, *sessions, s->push_, c.notifications);
  s->service_ = std::make_unique<NotificationService>(*s->notifications_, *s->pool_);
  s->grpc_ = std::make_unique<sb::rpc::Server>(
      sb::rpc::ServerOptions{.host = c.grpc_host, .port = c.grpc_port, .reflection = c.grpc_reflection});
  s->grpc_->AddService(s->service_.get());

  s->admin_ = std::make_unique<sb::metrics::AdminServer>(
      sb::metrics::AdminServerOptions{.host = c.http_host, .port = static_cast<uint16_t>(c.http_port)});
  NotificationServer* self = s.get();
  // Readiness reads a flag the health thread refreshes (checks must not query on the Asio thread).
  s->admin_->AddReadinessCheck("postgres", [self]() -> absl::Status {
    return self->db_ok_.load() ? absl::OkStatus() : absl::UnavailableError("postgres unreachable");
  });
  return s;
}

NotificationServer::~NotificationServer() { Shutdown(absl::Now() + absl::Seconds(1)); }

absl::Status NotificationServer::Start() {
  SB_RETURN_IF_ERROR(admin_->Start());
  if (absl::Status s = grpc_->Start(); !s.ok()) {
    admin_->Stop();
    return s;
  }
  readiness_probe_ = std::make_unique<sb::PeriodicTask>("postgres readiness", absl::Seconds(5),
                                                        [this] { db_ok_.store(sb::db::PostgresReachable(*db_)); });
  readiness_probe_->Start();
  started_ = true;
  sb::log::Info("notification listening", {{"grpc_port", grpc_->port()}, {"http_port", config_.http_port},
                                           {"instance", config_.instance_id},
                                           {"presence", config_.presence_addr.empty() ? "bus" : config_.presence_addr}});
  return absl::OkStatus();
}

void NotificationServer::Shutdown(absl::Time deadline) {
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
  readiness_probe_->Stop();
  notifications_->StopNotifies();  // stores what is queued while the database pool still exists
  pool_->Stop();
  admin_->Stop();
  sb::log::Info("notification stopped", {});
}

}  // namespace sb::notification
