// What every REST handler of the gateway (chat, presence, notifications) shares: JSON responses,
// the error shape {"error":{"code","message"}}, bearer authentication, and turning a gRPC result
// into an HTTP answer with the one status mapping (ClientErrorFor).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>
#include <grpcpp/support/status.h>

#include "sb/auth/verifier.h"
#include "sb/socketio/server/http.h"
#include "services/gateway/chat_handlers.h"

namespace sb::gateway {

void SendJson(const socketio::server::Responder& respond, int status, const boost::json::value& body);
void SendError(const socketio::server::Responder& respond, int status, std::string_view code, std::string_view message);

// The caller's user id (JWT `sub`) from "Authorization: Bearer <token>". On a missing or bad token
// the 401 has been sent and nullopt is returned.
std::optional<std::string> AuthenticateRest(const sb::auth::Verifier& verifier,
                                            const socketio::server::RequestInfo& info,
                                            const socketio::server::Responder& respond);

// A gRPC completion that answers `ok_status` with shape(response), or the mapped error
// (`map_error`, ClientErrorFor by default).
template <typename Response>
std::function<void(const grpc::Status&, Response&)> RespondWith(
    socketio::server::Responder respond, std::function<boost::json::value(Response&)> shape, int ok_status = 200,
    std::function<ClientError(const grpc::Status&)> map_error = ClientErrorFor) {
  return [respond = std::move(respond), shape = std::move(shape), ok_status,
          map_error = std::move(map_error)](const grpc::Status& status, Response& response) {
    if (!status.ok()) {
      ClientError e = map_error(status);
      return SendError(respond, e.http_status, e.code, e.message);
    }
    SendJson(respond, ok_status, shape(response));
  };
}

// RespondWith with the response's protobuf JSON as the body.
template <typename Response>
std::function<void(const grpc::Status&, Response&)> RespondWithProto(socketio::server::Responder respond) {
  return RespondWith<Response>(std::move(respond), [](Response& r) { return ProtoToJson(r); });
}

}  // namespace sb::gateway
