// PresenceServer: wires sb-presence together and owns what it runs.
//
//   Redis: RedisPresenceState (Lua scripts) and the bus Publisher (events to sb:p:{user}).
//   Postgres: ConnectionPool for presence.last_seen; migrations (SB_PRESENCE_MIGRATIONS_DIR)
//     applied in Create() under an advisory lock.
//   Chat (SB_CHAT_ADDR): ChatContacts answers who may see whom and group members.
//   gRPC (SB_GRPC_PORT, 7002): switchboard.presence.v1.PresenceService, health, reflection.
//   HTTP (SB_HTTP_PORT, 9102): /metrics, /healthz, /readyz (redis and postgres checks).
//   A maintenance thread sweeps (lease expiry, debounced offlines, idle away) every
//   SB_PRESENCE_SWEEP_INTERVAL and flushes last seen to Postgres every SB_PRESENCE_FLUSH_INTERVAL.
//
// Shutdown(deadline): readiness 503, gRPC NOT_SERVING and drain, the maintenance thread stops
// after a last flush, the blocking pool finishes its queue, the admin server stops.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "sb/bus/publisher.h"
#include "sb/common/blocking_pool.h"
#include "sb/common/periodic_task.h"
#include "sb/db/pool.h"
#include "sb/metrics/admin_server.h"
#include "sb/redis/client.h"
#include "sb/rpc/server.h"
#include "services/presence/config.h"
#include "services/presence/presence.h"
#include "services/presence/presence_service.h"
#include "services/presence/redis_state.h"
#include "services/presence/store.h"
#include "switchboard/chat/v1/chat.grpc.pb.h"

namespace sb::presence {

// EventSink over the bus: Publisher::PublishPresence (pub/sub on sb:p:{user}, no stream).
class BusEventSink : public EventSink {
 public:
  explicit BusEventSink(sb::bus::Publisher& publisher) : publisher_(publisher) {}
  absl::Status PublishPresence(const std::string& user, const std::string& event,
                               const std::string& payload_json) override;

 private:
  sb::bus::Publisher& publisher_;
};

// Contacts from the chat service (FilterContacts, GetConversation), blocking calls with a
// deadline. Without a channel (SB_CHAT_ADDR unset) every viewer may see only itself and group
// presence is Unavailable.
class ChatContacts : public Contacts {
 public:
  ChatContacts(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<std::vector<std::string>> Filter(const std::string& viewer,
                                                  const std::vector<std::string>& candidates) override;
  absl::StatusOr<std::vector<std::string>> ConversationMembers(const std::string& viewer,
                                                               int64_t conversation_id) override;

 private:
  std::unique_ptr<switchboard::chat::v1::ChatService::Stub> stub_;
  absl::Duration timeout_;
};

class PresenceServer {
 public:
  // Connects nothing but Postgres (migrations); Unavailable / FailedPrecondition when they fail.
  static absl::StatusOr<std::unique_ptr<PresenceServer>> Create(PresenceConfig config);
  ~PresenceServer();

  absl::Status Start();
  void Shutdown(absl::Time deadline);  // idempotent
  int grpc_port() const { return grpc_->port(); }
  Presence& presence() { return *presence_; }

 private:
  explicit PresenceServer(PresenceConfig config) : config_(std::move(config)) {}
  void FlushLastSeen(const char* what);

  PresenceConfig config_;
  std::unique_ptr<sb::db::ConnectionPool> db_;
  std::unique_ptr<sb::BlockingPool> pool_;
  std::unique_ptr<redis::Client> redis_;
  std::optional<sb::bus::Publisher> publisher_;
  std::unique_ptr<BusEventSink> events_;
  std::unique_ptr<ChatContacts> contacts_;
  std::unique_ptr<RedisPresenceState> state_;
  std::unique_ptr<LastSeenStore> store_;
  std::unique_ptr<Presence> presence_;
  std::unique_ptr<PresenceService> service_;
  std::unique_ptr<sb::rpc::Server> grpc_;
  std::unique_ptr<sb::metrics::AdminServer> admin_;
  // Every instance sweeps; the scripts claim each expired entry once, so nothing is doubled.
  std::unique_ptr<sb::PeriodicTask> sweep_;
  std::unique_ptr<sb::PeriodicTask> flush_;            // last seen, Redis -> Postgres
  std::unique_ptr<sb::PeriodicTask> readiness_probe_;  // refreshes redis_ok_ / db_ok_
  std::mutex mu_;
  bool shut_down_ = false;
  bool started_ = false;
  std::atomic<bool> redis_ok_{true};
  std::atomic<bool> db_ok_{true};
};

}  // namespace sb::presence
