// NotificationServer: wires sb-notification together and owns what it runs.
//
//   Postgres: ConnectionPool (SB_POSTGRES_POOL_SIZE) + a BlockingPool of the same size running every
//     database call; migrations (SB_NOTIFICATION_MIGRATIONS_DIR) applied in Create() under an
//     advisory lock.
//   Redis: the bus Publisher (events to users' channels and streams) and the liveness fallback.
//   Presence (SB_PRESENCE_ADDR, optional): GetStatuses for live sessions, falling back to the bus.
//   gRPC (SB_GRPC_PORT, 7003): switchboard.notification.v1.NotificationService, health, reflection.
//   HTTP (SB_HTTP_PORT, 9103): /metrics, /healthz, /readyz (postgres check, 503 while draining).
//
// Shutdown(deadline): readiness 503, gRPC NOT_SERVING and drain, the Notify writers (queued
// notifications are stored), the blocking pool (queued work finishes), the admin server.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/status/statusor.h"
#include "sb/bus/publisher.h"
#include "sb/common/blocking_pool.h"
#include "sb/common/periodic_task.h"
#include "sb/db/pool.h"
#include "sb/metrics/admin_server.h"
#include "sb/redis/client.h"
#include "sb/rpc/server.h"
#include "services/notification/config.h"
#include "services/notification/notification_service.h"
#include "services/notification/notifications.h"
#include "switchboard/presence/v1/presence.grpc.pb.h"

namespace sb::notification {

// EventSink over the bus Publisher (stream + pub/sub per user, so gateway recovery replays events).
// PublishAll pipelines one event per entry (Publisher::PublishBatch).
class BusEventSink : public EventSink {
 public:
  explicit BusEventSink(sb::bus::Publisher& publisher) : publisher_(publisher) {}
  absl::Status PublishToUser(const std::string& user, const std::string& event, const std::string& payload) override;
  absl::Status PublishToUsers(const std::vector<std::string>& users, const std::string& event,
                              const std::string& payload) override;
  absl::Status PublishAll(const std::vector<Delivery>& deliveries) override;  // Publisher::PublishBatch

 private:
  sb::bus::Publisher& publisher_;
};

// Live sessions from the bus alone (sb::bus::UsersWithLiveSessions).
class BusSessionDirectory : public SessionDirectory {
 public:
  explicit BusSessionDirectory(redis::Client& redis) : redis_(redis) {}
  absl::StatusOr<std::vector<bool>> HaveLiveSessions(const std::vector<std::string>& users) override;

 private:
  redis::Client& redis_;
};

// Live sessions from the presence service (GetStatuses without viewer: `connected`), in calls of
// up to 1,000 users with a deadline; on any failure the bus answers instead (logged, counted in
// sb_notification_presence_fallbacks_total).
class PresenceSessionDirectory : public SessionDirectory {
 public:
  PresenceSessionDirectory(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout, SessionDirectory& fallback);
  absl::StatusOr<std::vector<bool>> HaveLiveSessions(const std::vector<std::string>& users) override;

 private:
  std::unique_ptr<switchboard::presence::v1::PresenceService::Stub> stub_;
  absl::Duration timeout_;
  SessionDirectory& fallback_;
};

class NotificationServer {
 public:
  // Connects nothing but Postgres (migrations); Unavailable / FailedPrecondition when they fail.
  static absl::StatusOr<std::unique_ptr<NotificationServer>> Create(NotificationConfig config);
  ~NotificationServer();

  absl::Status Start();
  void Shutdown(absl::Time deadline);  // idempotent
  int grpc_port() const { return grpc_->port(); }
  LoggingPushSink& push_sink() { return push_; }

 private:
  explicit NotificationServer(NotificationConfig config) : config_(std::move(config)) {}

  NotificationConfig config_;
  std::unique_ptr<sb::db::ConnectionPool> db_;
  std::unique_ptr<sb::BlockingPool> pool_;
  std::unique_ptr<redis::Client> redis_;
  std::optional<sb::bus::Publisher> publisher_;
  std::unique_ptr<BusEventSink> events_;
  std::unique_ptr<BusSessionDirectory> bus_sessions_;
  std::unique_ptr<PresenceSessionDirectory> presence_sessions_;
  LoggingPushSink push_;
  std::unique_ptr<NotificationStore> store_;
  std::unique_ptr<Notifications> notifications_;
  std::unique_ptr<NotificationService> service_;
  std::unique_ptr<sb::rpc::Server> grpc_;
  std::unique_ptr<sb::metrics::AdminServer> admin_;
  std::unique_ptr<sb::PeriodicTask> readiness_probe_;  // refreshes db_ok_ (no I/O on the admin thread)
  std::mutex mu_;
  bool shut_down_ = false;
  bool started_ = false;
  std::atomic<bool> db_ok_{true};
};

}  // namespace sb::notification
