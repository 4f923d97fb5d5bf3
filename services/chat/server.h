// ChatServer: wires sb-chat together and owns what it runs.
//
//   Postgres: ConnectionPool (SB_POSTGRES_POOL_SIZE) + a BlockingPool of the same size running every
//     database call; migrations (SB_CHAT_MIGRATIONS_DIR) applied in Create() under an advisory lock.
//   Redis: the bus Publisher (events to users' channels and streams) and PUBSUB NUMSUB for
//     "is this user online" (BusPresence over sb::bus::UsersWithLiveSessions).
//   Notification service (SB_NOTIFICATION_ADDR): new_message notifications of offline recipients
//     (NotificationNotifier); unset: LoggingNotifier.
//   gRPC (SB_GRPC_PORT, 7001): switchboard.chat.v1.ChatService, health, reflection when enabled.
//   HTTP (SB_HTTP_PORT, 9101): /metrics, /healthz, /readyz (postgres check, 503 while draining).
//   A typing thread publishes isTyping:false for starts that expired.
//
// Shutdown(deadline): readiness 503, gRPC NOT_SERVING and drain, then the typing thread, the
// blocking pool (queued work finishes), the admin server.
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
#include "services/chat/redis_rate_limiter.h"
#include "services/chat/chat.h"
#include "services/chat/chat_service.h"
#include "services/chat/config.h"
#include "services/chat/notification_notifier.h"

namespace sb::chat {

// EventSink over the bus (Publisher::PublishToUsers: stream + pub/sub per user).
class BusEventSink : public EventSink {
 public:
  explicit BusEventSink(sb::bus::Publisher& publisher) : publisher_(publisher) {}
  absl::Status PublishToUsers(const std::vector<std::string>& users, const std::string& event,
                              const std::string& payload_json) override;
  absl::Status PublishBatch(const std::vector<Delivery>& deliveries) override;

 private:
  sb::bus::Publisher& publisher_;
};

// PresenceReader until the presence service exists: a user is online while some gateway holds a
// socket of theirs, which is exactly while a gateway is subscribed to the user's bus channel
// sb:u:{user} (sb::bus::UsersWithLiveSessions).
class BusPresence : public PresenceReader {
 public:
  explicit BusPresence(redis::Client& redis) : redis_(redis) {}
  absl::StatusOr<std::vector<bool>> AreOnline(const std::vector<std::string>& users) override;

 private:
  redis::Client& redis_;
};

class ChatServer {
 public:
  // Connects nothing but Postgres (migrations); Unavailable / FailedPrecondition when they fail.
  static absl::StatusOr<std::unique_ptr<ChatServer>> Create(ChatConfig config);
  ~ChatServer();

  absl::Status Start();
  void Shutdown(absl::Time deadline);  // idempotent
  int grpc_port() const { return grpc_->port(); }
  LoggingNotifier& notifier() { return notifier_; }

 private:
  explicit ChatServer(ChatConfig config) : config_(std::move(config)) {}

  ChatConfig config_;
  std::unique_ptr<sb::db::ConnectionPool> db_;
  std::unique_ptr<sb::BlockingPool> pool_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisSendRateCounter> send_rate_;
  std::optional<sb::bus::Publisher> publisher_;
  std::unique_ptr<BusEventSink> events_;
  std::unique_ptr<BusPresence> presence_;
  LoggingNotifier notifier_;
  std::unique_ptr<NotificationNotifier> remote_notifier_;  // when SB_NOTIFICATION_ADDR is set
  std::unique_ptr<ChatStore> store_;
  std::unique_ptr<Chat> chat_;
  std::unique_ptr<ChatService> service_;
  std::unique_ptr<sb::rpc::Server> grpc_;
  std::unique_ptr<sb::metrics::AdminServer> admin_;
  std::unique_ptr<sb::PeriodicTask> typing_expiry_;   // typing starts without a stop end after the TTL
  std::unique_ptr<sb::PeriodicTask> readiness_probe_;  // refreshes db_ok_ (no I/O on the admin thread)
  std::mutex mu_;
  bool shut_down_ = false;
  bool started_ = false;  // Start() succeeded
  std::atomic<bool> db_ok_{true};
};

}  // namespace sb::chat
