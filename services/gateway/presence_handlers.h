// The gateway's side of the presence service: session registration and lease renewal, the
// Socket.IO presence events, and the async gRPC client they (and the REST endpoints,
// presence_rest.h) use.
//
// Sessions: every authenticated socket is registered (RegisterSession: user, socket id, this
// gateway's instance id, handshake device/platform) and unregistered on disconnect; a socket that
// disconnects while its registration is in flight is unregistered once that call returns (gRPC
// does not order calls). PresenceLeases renews all local sessions in one RenewSessions call every
// SB_PRESENCE_RENEW_INTERVAL and re-registers those presence does not know (e.g. after Redis was
// lost or a registration failed while presence was down).
//
//   presence:online / presence:away / presence:offline  {activity?}  -> SetStatus (offline = appear
//                                                                      offline while connected)
//   presence:update      {activity, status?}   -> SetStatus (activity; status optional)
//   presence:subscribe   {userIds:[...]}       -> Watch, then the socket watches the allowed ones;
//                        ack {"ok":true,"data":{"users":[status...],"denied":[ids...]}}
//   presence:unsubscribe {userIds:[...]}       -> stops watching (no presence call)
// A status (acks, REST): {userId, isOnline, status: online|away|offline, lastSeen: RFC 3339 | null,
// activity}. Presence down: error ack {"code":"unavailable"}; everything else keeps working.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <boost/json.hpp>
#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "sb/rpc/async_client.h"
#include "services/gateway/chat_handlers.h"
#include "services/gateway/realtime.h"
#include "switchboard/presence/v1/presence.grpc.pb.h"

namespace sb::gateway {

// The client shape of a presence status (see the top of this file).
boost::json::object PresenceStatusJson(const switchboard::presence::v1::UserPresence& presence);
// ClientErrorFor, naming the presence service when it is unavailable.
ClientError PresenceErrorFor(const grpc::Status& status);
// The user ids of a presence:subscribe / presence:unsubscribe payload ({userIds:[...]} or a bare
// array); nullopt when malformed (not strings, or more than `max`).
std::optional<std::vector<std::string>> UserIdsArg(const socketio::server::Message& msg, size_t max);

// Async calls to PresenceService with a deadline; `done` runs on a gRPC thread.
using PresenceClient = sb::rpc::AsyncClient<switchboard::presence::v1::PresenceService>;

struct SessionQueue;  // presence_handlers.cc

// Registers / unregisters sessions (Realtime's session hooks) and renews their leases.
class PresenceLeases {
 public:
  // Both must outlive this object (Stop() before they go).
  PresenceLeases(Realtime& realtime, PresenceClient& presence, std::string gateway_id, absl::Duration interval);
  ~PresenceLeases();

  // Before Realtime::Install(): installs the session hooks.
  void Install();
  // Starts / stops the renewal thread. Stop is idempotent.
  void Start();
  void Stop();
  // One renewal round now (async); false when the previous round is still running.
  bool RenewNow();

 private:
  void Register(const ClientSession& session);
  void Unregister(const ClientSession& session);

  Realtime& realtime_;
  PresenceClient& presence_;
  const std::string gateway_id_;
  const absl::Duration interval_;
  std::atomic<bool> renewing_{false};

  std::shared_ptr<SessionQueue> queue_;  // per-socket order of register / unregister calls
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// Registers the presence event handlers on `realtime` (before Install()).
void InstallPresenceHandlers(Realtime& realtime, PresenceClient& presence, size_t max_watched);

}  // namespace sb::gateway
