#include "services/presence/presence_service.h"

#include <google/protobuf/util/time_util.h>

#include "sb/common/log.h"
#include "sb/rpc/blocking.h"

namespace sb::presence {

namespace pb = ::switchboard::presence::v1;
using google::protobuf::util::TimeUtil;

namespace {

pb::Status StatusToProto(Status s) {
  switch (s) {
    case Status::kOnline:
      return pb::STATUS_ONLINE;
    case Status::kAway:
      return pb::STATUS_AWAY;
    case Status::kOffline:
      return pb::STATUS_OFFLINE;
  }
  return pb::STATUS_OFFLINE;
}

SessionInfo FromProto(const pb::SessionInfo& in) {
  SessionInfo out{in.user_id(), in.session_id(), in.gateway_id(), in.device(), in.platform(), std::nullopt};
  if (in.has_last_active()) out.last_active = absl::FromUnixMillis(TimeUtil::TimestampToMilliseconds(in.last_active()));
  return out;
}

}  // namespace

void ToProto(const UserPresence& in, pb::UserPresence* out) {
  out->set_user_id(in.user_id);
  out->set_is_online(in.is_online);
  out->set_status(StatusToProto(in.status));
  if (in.last_seen_ms) *out->mutable_last_seen() = TimeUtil::MillisecondsToTimestamp(*in.last_seen_ms);
  out->set_activity(in.activity);
  out->set_sessions(in.sessions);
  out->set_connected(in.connected);
}

grpc::ServerUnaryReactor* PresenceService::RegisterSession(grpc::CallbackServerContext* context,
                                                           const pb::RegisterSessionRequest* req,
                                                           pb::RegisterSessionResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto first = presence_.RegisterSession(FromProto(req->session()));
    if (!first.ok()) return first.status();
    resp->set_user_came_online(*first);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceService::UnregisterSession(grpc::CallbackServerContext* context,
                                                             const pb::UnregisterSessionRequest* req,
                                                             pb::UnregisterSessionResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto remaining = presence_.UnregisterSession(req->user_id(), req->session_id(), req->gateway_id());
    if (!remaining.ok()) return remaining.status();
    resp->set_remaining_sessions(*remaining);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceService::RenewSessions(grpc::CallbackServerContext* context,
                                                         const pb::RenewSessionsRequest* req,
                                                         pb::RenewSessionsResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    std::vector<SessionInfo> sessions;
    sessions.reserve(req->sessions_size());
    for (const auto& s : req->sessions()) sessions.push_back(FromProto(s));
    auto unknown = presence_.RenewSessions(req->gateway_id(), sessions);
    if (!unknown.ok()) return unknown.status();
    for (auto& id : *unknown) resp->add_unknown_session_ids(std::move(id));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceService::SetStatus(grpc::CallbackServerContext* context,
                                                     const pb::SetStatusRequest* req, pb::SetStatusResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    std::optional<Status> status;
    switch (req->status()) {
      case pb::STATUS_UNSPECIFIED:
        break;
      case pb::STATUS_ONLINE:
        status = Status::kOnline;
        break;
      case pb::STATUS_AWAY:
        status = Status::kAway;
        break;
      case pb::STATUS_OFFLINE:
        status = Status::kOffline;
        break;
      default:
        return absl::InvalidArgumentError("status: one of ONLINE, AWAY, OFFLINE (or unspecified)");
    }
    auto presence = presence_.SetStatus(req->user_id(), status, req->activity());
    if (!presence.ok()) return presence.status();
    ToProto(*presence, resp->mutable_presence());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceService::GetStatuses(grpc::CallbackServerContext* context,
                                                       const pb::GetStatusesRequest* req,
                                                       pb::GetStatusesResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    std::optional<std::string> viewer;
    if (!req->viewer_id().empty()) viewer = req->viewer_id();
    std::vector<std::string> users(req->user_ids().begin(), req->user_ids().end());
    auto statuses = presence_.GetStatuses(viewer, users);
    if (!statuses.ok()) return statuses.status();
    for (const auto& p : *statuses) ToProto(p, resp->add_users());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceService::Watch(grpc::CallbackServerContext* context, const pb::WatchRequest* req,
                                                 pb::WatchResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    std::vector<std::string> users(req->user_ids().begin(), req->user_ids().end());
    auto result = presence_.Watch(req->viewer_id(), users);
    if (!result.ok()) return result.status();
    for (const auto& p : result->allowed) ToProto(p, resp->add_allowed());
    for (auto& id : result->denied) resp->add_denied_user_ids(std::move(id));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PresenceService::GetConversationPresence(grpc::CallbackServerContext* context,
                                                                   const pb::GetConversationPresenceRequest* req,
                                                                   pb::GetStatusesResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto statuses = presence_.GetConversationPresence(req->viewer_id(), req->conversation_id());
    if (!statuses.ok()) return statuses.status();
    for (const auto& p : *statuses) ToProto(p, resp->add_users());
    return absl::OkStatus();
  });
}

}  // namespace sb::presence
