// GatewayService (switchboard.gateway.v1), callback API. Handlers validate on the gRPC thread (cheap,
// no I/O) and run every Redis call on the BlockingPool, finishing the reactor from there.
//
//   Publish(users)   -> bus Publisher::PublishToUsers (user streams + pub/sub): every socket of each
//                       user on every instance gets the event, with its stream offset
//   Publish(room)    -> bus Publisher::PublishToRoom (short room stream + pub/sub): sockets currently
//                       in the room, every instance, with the room stream's offset
//   event_id         -> idempotent Publish: each user / the room gets the event at most once per id
//                       (24 h; deduplicated in the publish script, see sb/bus/publisher.h), so a
//                       caller retries a partly failed Publish with the same id safely
//   DisconnectUser   -> a control event "sb:control:disconnect" on sb:u:{user} (pub/sub only, not
//                       stored in the stream); every instance disconnects the user's local sockets
//   Stats            -> this instance's counters (Realtime::Stats)
// Validation errors are INVALID_ARGUMENT with a message naming the field; nothing is published.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "sb/bus/publisher.h"
#include "sb/common/blocking_pool.h"
#include "sb/redis/client.h"
#include "services/gateway/realtime.h"
#include "switchboard/gateway/v1/gateway.grpc.pb.h"

namespace sb::gateway {

inline constexpr int kMaxPublishUsers = 10'000;
inline constexpr size_t kMaxEventNameBytes = 64;

// OK for an event name clients may receive; InvalidArgument naming the problem otherwise.
absl::Status ValidateEventName(const std::string& name);
// Checks a whole PublishRequest (target, every user id, room, event name, payload JSON).
absl::Status ValidatePublish(const switchboard::gateway::v1::PublishRequest& request);

class GatewayService final : public switchboard::gateway::v1::GatewayService::CallbackService {
 public:
  // All references must outlive the service. `stats` is called on the gRPC thread (cheap).
  GatewayService(sb::bus::Publisher& publisher, redis::Client& redis, sb::BlockingPool& pool,
                 std::string instance_id, std::function<RealtimeStats()> stats);

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const switchboard::gateway::v1::PublishRequest* request,
                                    switchboard::gateway::v1::PublishResponse* response) override;
  grpc::ServerUnaryReactor* DisconnectUser(grpc::CallbackServerContext* context,
                                           const switchboard::gateway::v1::DisconnectUserRequest* request,
                                           switchboard::gateway::v1::DisconnectUserResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const switchboard::gateway::v1::StatsRequest* request,
                                  switchboard::gateway::v1::StatsResponse* response) override;

 private:
  sb::bus::Publisher& publisher_;
  redis::Client& redis_;
  sb::BlockingPool& pool_;
  std::string instance_id_;
  std::function<RealtimeStats()> stats_;
};

}  // namespace sb::gateway
