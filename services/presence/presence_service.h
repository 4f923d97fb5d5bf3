// PresenceService (switchboard.presence.v1), callback API: translates protobuf <-> the Presence
// domain. Every call runs on the BlockingPool (Redis, Postgres and chat calls block); a full queue
// answers RESOURCE_EXHAUSTED, a call whose deadline passed while queued is answered without running.
#pragma once

#include "sb/common/blocking_pool.h"
#include "services/presence/presence.h"
#include "switchboard/presence/v1/presence.grpc.pb.h"

namespace sb::presence {

// Domain -> protobuf.
void ToProto(const UserPresence& in, switchboard::presence::v1::UserPresence* out);

class PresenceService final : public switchboard::presence::v1::PresenceService::CallbackService {
 public:
  PresenceService(Presence& presence, sb::BlockingPool& pool) : presence_(presence), pool_(pool) {}

#define SB_PRESENCE_RPC(Method, Request, Response)                                                     \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                               \
                                   const switchboard::presence::v1::Request* request,                  \
                                   switchboard::presence::v1::Response* response) override;
  SB_PRESENCE_RPC(RegisterSession, RegisterSessionRequest, RegisterSessionResponse)
  SB_PRESENCE_RPC(UnregisterSession, UnregisterSessionRequest, UnregisterSessionResponse)
  SB_PRESENCE_RPC(RenewSessions, RenewSessionsRequest, RenewSessionsResponse)
  SB_PRESENCE_RPC(SetStatus, SetStatusRequest, SetStatusResponse)
  SB_PRESENCE_RPC(GetStatuses, GetStatusesRequest, GetStatusesResponse)
  SB_PRESENCE_RPC(Watch, WatchRequest, WatchResponse)
  SB_PRESENCE_RPC(GetConversationPresence, GetConversationPresenceRequest, GetStatusesResponse)
#undef SB_PRESENCE_RPC

 private:
  Presence& presence_;
  sb::BlockingPool& pool_;
};

}  // namespace sb::presence
