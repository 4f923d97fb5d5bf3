#include "services/gateway/rest_common.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace sb::gateway {

namespace json = boost::json;
namespace sio = sb::socketio::server;

void SendJson(const sio::Responder& respond, int status, const json::value& body) {
  respond(sio::MakeResponse(static_cast<sio::http::status>(status), "application/json", json::serialize(body)));
}

void SendError(const sio::Responder& respond, int status, std::string_view code, std::string_view message) {
  SendJson(respond, status, json::object{{"error", json::object{{"code", code}, {"message", message}}}});
}

std::optional<std::string> AuthenticateRest(const sb::auth::Verifier& verifier, const sio::RequestInfo& info,
                                            const sio::Responder& respond) {
  std::string token;
  if (auto header = info.Header("authorization")) {
    absl::string_view value(header->data(), header->size());
    if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
      token = std::string(absl::StripAsciiWhitespace(value.substr(7)));
    }
  }
  if (token.empty()) {
    SendError(respond, 401, "unauthenticated", "send Authorization: Bearer <token>");
    return std::nullopt;
  }
  auto claims = verifier.Verify(token);
  if (!claims.ok()) {
    SendError(respond, 401, "unauthenticated", std::string(claims.status().message()));
    return std::nullopt;
  }
  return claims->sub;
}

}  // namespace sb::gateway
