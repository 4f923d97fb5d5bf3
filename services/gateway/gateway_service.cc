#include "services/gateway/gateway_service.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/bus/envelope.h"
#include "sb/common/status.h"
#include "sb/rpc/status.h"

namespace sb::gateway {

namespace pb = ::switchboard::gateway::v1;

namespace {
const char* const kReservedNames[] = {"connect",        "connect_error", "disconnect", "disconnecting",
                                      "newListener",    "removeListener", "auth:success", "auth:error"};
}  // namespace

absl::Status ValidateEventName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("event: must not be empty");
  if (name.size() > kMaxEventNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("event: ", name.size(), " bytes, at most ", kMaxEventNameBytes, " allowed"));
  }
  if (!sb::bus::IsValidUtf8(name)) return absl::InvalidArgumentError("event: not valid UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return absl::InvalidArgumentError("event: contains a control character");
  }
  for (const char* reserved : kReservedNames) {
    if (name == reserved) return absl::InvalidArgumentError(absl::StrCat("event: \"", name, "\" is reserved"));
  }
  if (name.rfind(kInternalEventPrefix, 0) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("event: names starting with \"", std::string(kInternalEventPrefix), "\" are internal to Switchboard"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePublish(const pb::PublishRequest& request) {
  switch (request.target_case()) {
    case pb::PublishRequest::kUsers: {
      const auto& users = request.users().user_ids();
      if (users.empty()) return absl::InvalidArgumentError("users.user_ids: at least one user id is required");
      if (users.size() > kMaxPublishUsers) {
        return absl::InvalidArgumentError(
            absl::StrCat("users.user_ids: ", users.size(), " ids, at most ", kMaxPublishUsers, " per call"));
      }
      for (int i = 0; i < users.size(); ++i) {
        absl::Status s = sb::bus::ValidateId(users[i], "user id");
        if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("users.user_ids[", i, "]: ", s.message()));
      }
      break;
    }
    case pb::PublishRequest::kRoom: {
      absl::Status s = sb::bus::ValidateId(request.room(), "room");
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("room: ", s.message()));
      break;
    }
    default:
      return absl::InvalidArgumentError("target: set either users or room");
  }
  SB_RETURN_IF_ERROR(ValidateEventName(request.event()));
  if (!request.event_id().empty()) {
    absl::Status s = sb::bus::ValidateId(request.event_id(), "event id");
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("event_id: ", s.message()));
  }
  boost::system::error_code ec;
  boost::json::value payload = boost::json::parse(request.payload_json(), ec);
  const bool room = request.target_case() == pb::PublishRequest::kRoom;
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("payload_json: not valid JSON (", ec.message(), "); send ",
                                                   room ? "{}" : "\"null\"", " for no payload"));
  }
  // Room events carry no stream offset, and socket.io-client takes a trailing string argument of an
  // event for its recovery offset: a room payload must be an object or an array.
  if (room && !payload.is_object() && !payload.is_array()) {
    return absl::InvalidArgumentError(
        "payload_json: a room event's payload must be a JSON object or array (send {} for no payload)");
  }
  return absl::OkStatus();
}

GatewayService::GatewayService(sb::bus::Publisher& publisher, redis::Client& redis, sb::BlockingPool& pool,
                               std::string instance_id, std::function<RealtimeStats()> stats)
    : publisher_(publisher), redis_(redis), pool_(pool), instance_id_(std::move(instance_id)), stats_(std::move(stats)) {}

grpc::ServerUnaryReactor* GatewayService::Publish(grpc::CallbackServerContext* context, const pb::PublishRequest* request,
                                                  pb::PublishResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::Status valid = ValidatePublish(*request);
  if (!valid.ok()) {
    reactor->Finish(sb::rpc::ToGrpcStatus(valid));
    return reactor;
  }
  absl::Status submitted = pool_.Submit([this, request, response, reactor] {
    if (request->target_case() == pb::PublishRequest::kUsers) {
      std::vector<std::string> users(request->users().user_ids().begin(), request->users().user_ids().end());
      auto offsets = publisher_.PublishToUsers(users, request->event(), request->payload_json(), request->event_id());
      if (!offsets.ok()) return reactor->Finish(sb::rpc::ToGrpcStatus(offsets.status()));
      for (auto& offset : *offsets) response->add_offsets(std::move(offset));
    } else {
      auto published =
          publisher_.PublishToRoom(request->room(), request->event(), request->payload_json(), request->event_id());
      if (!published.ok()) return reactor->Finish(sb::rpc::ToGrpcStatus(published.status()));
      response->add_offsets(std::move(published->offset));
      response->set_receivers(published->receivers);
    }
    reactor->Finish(grpc::Status::OK);
  });
  if (!submitted.ok()) reactor->Finish(sb::rpc::ToGrpcStatus(submitted));
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::DisconnectUser(grpc::CallbackServerContext* context,
                                                         const pb::DisconnectUserRequest* request,
                                                         pb::DisconnectUserResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto channel = sb::bus::UserChannel(request->user_id());
  if (!channel.ok()) {
    reactor->Finish(sb::rpc::ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("user_id: ", channel.status().message()))));
    return reactor;
  }
  if (request->reason().size() > 256 || !sb::bus::IsValidUtf8(request->reason())) {
    reactor->Finish(sb::rpc::ToGrpcStatus(absl::InvalidArgumentError("reason: at most 256 bytes of UTF-8")));
    return reactor;
  }
  absl::Status submitted = pool_.Submit([this, request, response, reactor, channel = *channel] {
    // Pub/sub only: a control event must not be replayed from the user's stream after recovery.
    std::string payload = boost::json::serialize(boost::json::object{{"reason", request->reason()}});
    sb::bus::Event event = sb::bus::MakeEvent(std::string(kControlDisconnect), payload, "gateway/" + instance_id_,
                                              "u:" + request->user_id());
    auto reply = redis_.Command({"PUBLISH", channel, event.SerializeAsString()});
    if (!reply.ok()) return reactor->Finish(sb::rpc::ToGrpcStatus(reply.status()));
    if (reply->is_error()) return reactor->Finish(sb::rpc::ToGrpcStatus(redis::ErrorReplyToStatus(reply->str)));
    response->set_receivers(reply->integer);
    reactor->Finish(grpc::Status::OK);
  });
  if (!submitted.ok()) reactor->Finish(sb::rpc::ToGrpcStatus(submitted));
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::Stats(grpc::CallbackServerContext* context, const pb::StatsRequest*,
                                                pb::StatsResponse* response) {
  auto* reactor = context->DefaultReactor();
  RealtimeStats s = stats_();
  response->set_instance_id(instance_id_);
  response->set_connections(s.connections);
  response->set_sockets(s.sockets);
  for (const auto& [nsp, n] : s.sockets_per_namespace) (*response->mutable_sockets_per_namespace())[nsp] = n;
  response->set_rooms(s.rooms);
  response->set_bus_subscriptions(s.bus_subscriptions);
  response->set_emits_in(s.emits_in);
  response->set_emits_out(s.emits_out);
  response->set_evictions(s.evictions);
  for (const auto& [reason, n] : s.refusals_by_reason) (*response->mutable_refusals_by_reason())[reason] = n;
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace sb::gateway
