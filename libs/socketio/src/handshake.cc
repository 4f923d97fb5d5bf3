#include "sb/socketio/handshake.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace sb::socketio::eio {

std::string_view ErrorMessage(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknownTransport: return "Transport unknown";
    case ErrorCode::kUnknownSid: return "Session ID unknown";
    case ErrorCode::kBadHandshakeMethod: return "Bad handshake method";
    case ErrorCode::kBadRequest: return "Bad request";
    case ErrorCode::kForbidden: return "Forbidden";
    case ErrorCode::kUnsupportedProtocolVersion: return "Unsupported protocol version";
  }
  return "Bad request";
}

int ErrorHttpStatus(ErrorCode code) { return code == ErrorCode::kForbidden ? 403 : 400; }

std::string ErrorBody(ErrorCode code) {
  boost::json::object body;
  body["code"] = static_cast<int>(code);
  body["message"] = ErrorMessage(code);
  return boost::json::serialize(body);
}

std::optional<Transport> ParseTransport(std::string_view name) {
  if (name == "polling") return Transport::kPolling;
  if (name == "websocket") return Transport::kWebSocket;
  return std::nullopt;
}

std::string_view TransportName(Transport transport) {
  return transport == Transport::kPolling ? "polling" : "websocket";
}

std::variant<HandshakeAccepted, HandshakeRejected> ValidateHandshake(const HandshakeRequest& request,
                                                                     SessionLookup find_session) {
  const std::optional<Transport> transport =
      request.transport ? ParseTransport(*request.transport) : std::nullopt;
  if (!transport) return HandshakeRejected{ErrorCode::kUnknownTransport};

  // The reference server only checks EIO when opening a session; we check every request because
  // socket.io-client 4.x always sends EIO=4 and nothing else should reach a v4-only server.
  if (!request.eio || *request.eio != "4") return HandshakeRejected{ErrorCode::kUnsupportedProtocolVersion};

  if (request.sid && !request.sid->empty()) {
    const std::optional<Transport> current = find_session(*request.sid);
    if (!current) return HandshakeRejected{ErrorCode::kUnknownSid};
    const bool upgrade = *transport == Transport::kWebSocket && request.websocket_upgrade &&
                         *current == Transport::kPolling;
    if (*transport != *current && !upgrade) return HandshakeRejected{ErrorCode::kBadRequest};
    // A websocket request on a websocket session would open a second socket for one session.
    if (*transport == Transport::kWebSocket && !upgrade) return HandshakeRejected{ErrorCode::kBadRequest};
    return HandshakeAccepted{*transport, std::string(*request.sid), upgrade};
  }

  if (request.method != "GET") return HandshakeRejected{ErrorCode::kBadHandshakeMethod};
  if (*transport == Transport::kWebSocket && !request.websocket_upgrade) {
    return HandshakeRejected{ErrorCode::kBadRequest};
  }
  return HandshakeAccepted{*transport, std::nullopt, false};
}

}  // namespace sb::socketio::eio
