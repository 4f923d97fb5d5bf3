#include "services/gateway/presence_rest.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "services/gateway/rest_common.h"

namespace sb::gateway {

namespace json = boost::json;
namespace sio = sb::socketio::server;
namespace pb = ::switchboard::presence::v1;
using Stub = pb::PresenceService::Stub::async_interface;

namespace {

constexpr std::string_view kOnlineStatus = "/api/v1/users/online-status";
constexpr std::string_view kGroupPrefix = "/api/v1/presence/";
constexpr size_t kMaxIds = 1000;

json::array Users(const pb::GetStatusesResponse& r) {
  json::array users;
  for (const auto& p : r.users()) users.push_back(PresenceStatusJson(p));
  return users;
}

}  // namespace

bool PresenceRest::Handle(const sio::Request&, const sio::RequestInfo& info, sio::Responder respond) {
  const bool online_status = info.path == kOnlineStatus;
  const bool group = absl::StartsWith(info.path, std::string(kGroupPrefix));
  if (!online_status && !group) return false;

  std::optional<std::string> caller = AuthenticateRest(verifier_, info, respond);
  if (!caller) return true;
  if (info.method != "GET") {
    SendError(respond, 405, "method_not_allowed", info.method + " not allowed on " + info.path);
    return true;
  }
  auto answer = [respond](std::function<json::value(pb::GetStatusesResponse&)> shape) {
    return RespondWith<pb::GetStatusesResponse>(respond, std::move(shape), 200, PresenceErrorFor);
  };

  if (online_status) {
    pb::GetStatusesRequest req;
    req.set_viewer_id(*caller);
    for (const auto& [name, value] : info.query) {
      if (name != "userIds") continue;
      for (absl::string_view id : absl::StrSplit(absl::string_view(value), ',', absl::SkipEmpty())) {
        req.add_user_ids(std::string(id));
      }
    }
    if (req.user_ids_size() == 0 || static_cast<size_t>(req.user_ids_size()) > kMaxIds) {
      SendError(respond, 422, "invalid_argument", "userIds: 1..1000 comma-separated user ids");
      return true;
    }
    presence_.Call<pb::GetStatusesRequest, pb::GetStatusesResponse>(
        &Stub::GetStatuses, std::move(req),
        answer([](pb::GetStatusesResponse& r) { return json::object{{"users", Users(r)}}; }));
    return true;
  }

  int64_t id = 0;
  const std::string rest = info.path.substr(kGroupPrefix.size());
  if (!absl::SimpleAtoi(rest, &id) || id <= 0) {
    SendError(respond, 400, "bad_request", "conversation id: a positive number");
    return true;
  }
  pb::GetConversationPresenceRequest req;
  req.set_viewer_id(*caller);
  req.set_conversation_id(id);
  presence_.Call<pb::GetConversationPresenceRequest, pb::GetStatusesResponse>(
      &Stub::GetConversationPresence, std::move(req), answer([id](pb::GetStatusesResponse& r) {
        return json::object{{"conversationId", std::to_string(id)}, {"users", Users(r)}};
      }));
  return true;
}

}  // namespace sb::gateway
