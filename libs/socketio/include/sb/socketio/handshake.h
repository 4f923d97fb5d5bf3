// Engine.IO v4 request validation: which requests the reference server (engine.io 6.x) accepts, and
// the error it answers otherwise. Pure: the caller passes the query values and a session lookup.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/functional/function_ref.h"

namespace sb::socketio::eio {

// The reference server's error codes, sent as HTTP 400 (403 for kForbidden) with the JSON body
// {"code":N,"message":"..."}; socket.io-client shows the message in its connect_error.
enum class ErrorCode : int {
  kUnknownTransport = 0,            // "Transport unknown"
  kUnknownSid = 1,                  // "Session ID unknown"
  kBadHandshakeMethod = 2,          // "Bad handshake method"
  kBadRequest = 3,                  // "Bad request"
  kForbidden = 4,                   // "Forbidden"
  kUnsupportedProtocolVersion = 5,  // "Unsupported protocol version"
};

std::string_view ErrorMessage(ErrorCode code);
// 403 for kForbidden, 400 for everything else (as the reference server).
int ErrorHttpStatus(ErrorCode code);
// {"code":N,"message":"..."}
std::string ErrorBody(ErrorCode code);

enum class Transport { kPolling, kWebSocket };

// "polling" / "websocket"; nullopt for anything else.
std::optional<Transport> ParseTransport(std::string_view name);
std::string_view TransportName(Transport transport);

// What the caller extracted from the HTTP request. Absent query parameters are nullopt.
struct HandshakeRequest {
  std::string_view method;                  // "GET", "POST", ...
  std::optional<std::string_view> eio;      // query EIO
  std::optional<std::string_view> transport;  // query transport
  std::optional<std::string_view> sid;      // query sid
  bool websocket_upgrade = false;           // the request asks for a WebSocket upgrade
};

// An accepted request.
struct HandshakeAccepted {
  Transport transport;
  std::optional<std::string> sid;  // nullopt: open a new session; otherwise an existing session
  bool is_upgrade = false;         // websocket upgrade of an existing polling session
};

struct HandshakeRejected {
  ErrorCode code;
};

// Returns the current transport of a live session, or nullopt when no session has that id.
using SessionLookup = absl::FunctionRef<std::optional<Transport>(std::string_view sid)>;

// Validates a request in the reference server's order:
//   transport not polling|websocket                      -> kUnknownTransport
//   EIO missing or not "4"                               -> kUnsupportedProtocolVersion
//   with sid: unknown session                            -> kUnknownSid
//             other transport than the session's and not a websocket upgrade of a polling
//             session                                    -> kBadRequest
//   without sid (new session): method is not GET        -> kBadHandshakeMethod
//             transport=websocket without an Upgrade     -> kBadRequest
// kForbidden is the caller's to return (its own allowRequest / auth checks), and so is the HTTP
// method of requests on an existing polling session (GET polls, POST sends). An empty sid counts
// as absent, like the reference server.
std::variant<HandshakeAccepted, HandshakeRejected> ValidateHandshake(const HandshakeRequest& request,
                                                                     SessionLookup find_session);

}  // namespace sb::socketio::eio
