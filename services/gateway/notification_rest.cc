#include "services/gateway/notification_rest.h"

#include <boost/json.hpp>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "sb/rpc/client.h"
#include "services/gateway/chat_handlers.h"
#include "services/gateway/rest_common.h"

namespace sb::gateway {

namespace json = boost::json;
namespace sio = sb::socketio::server;
namespace pb = ::switchboard::notification::v1;
using Stub = pb::NotificationService::Stub::async_interface;

namespace {

constexpr std::string_view kPrefix = "/api/v1/notifications";

}  // namespace

bool NotificationRest::Handle(const sio::Request& request, const sio::RequestInfo& info, sio::Responder respond) {
  if (info.path != kPrefix && !absl::StartsWith(info.path, std::string(kPrefix) + "/")) return false;

  std::optional<std::string> caller = AuthenticateRest(verifier_, info, respond);
  if (!caller) return true;
  const std::string user = *caller;
  const std::string& method = info.method;
  std::vector<std::string> parts = absl::StrSplit(info.path.substr(kPrefix.size()), '/', absl::SkipEmpty());
  auto bad_method = [&] { SendError(respond, 405, "method_not_allowed", method + " not allowed on " + info.path); };

  if (parts.empty()) {
    if (method != "GET") return bad_method(), true;
    pb::ListRequest req;
    req.set_user_id(user);
    if (auto q = info.Query("limit")) {
      int64_t limit = 0;
      if (!absl::SimpleAtoi(absl::string_view(q->data(), q->size()), &limit) || limit < 1 || limit > 100) {
        SendError(respond, 422, "invalid_argument", "limit: a number 1..100");
        return true;
      }
      req.set_limit(static_cast<int32_t>(limit));
    }
    if (auto q = info.Query("cursor")) req.set_cursor(std::string(*q));
    if (auto q = info.Query("unread")) {
      const std::string v(*q);
      if (v != "true" && v != "false" && v != "1" && v != "0" && !v.empty()) {
        SendError(respond, 422, "invalid_argument", "unread: true or false");
        return true;
      }
      req.set_unread_only(v == "true" || v == "1");
    }
    notifications_.Call<pb::ListRequest, pb::ListResponse>(&Stub::List, std::move(req),
                                                           RespondWithProto<pb::ListResponse>(respond));
    return true;
  }

  if (parts.size() == 1 && parts[0] == "unread-count") {
    if (method != "GET") return bad_method(), true;
    pb::GetUnreadCountRequest req;
    req.set_user_id(user);
    notifications_.Call<pb::GetUnreadCountRequest, pb::GetUnreadCountResponse>(
        &Stub::GetUnreadCount, std::move(req),
        // A number, like the notification:unread event's {count} (protobuf JSON would quote an int64).
        RespondWith<pb::GetUnreadCountResponse>(respond, [](pb::GetUnreadCountResponse& r) -> json::value {
          return json::object{{"count", r.count()}};
        }));
    return true;
  }

  if (parts.size() == 1 && parts[0] == "read-all") {
    if (method != "POST") return bad_method(), true;
    pb::MarkAllReadRequest req;
    req.set_user_id(user);
    notifications_.Call<pb::MarkAllReadRequest, pb::MarkAllReadResponse>(&Stub::MarkAllRead, std::move(req),
                                                                         RespondWithProto<pb::MarkAllReadResponse>(respond));
    return true;
  }

  if (parts.size() == 1 && parts[0] == "preferences") {
    if (method == "GET") {
      pb::GetPreferencesRequest req;
      req.set_user_id(user);
      notifications_.Call<pb::GetPreferencesRequest, pb::Preferences>(&Stub::GetPreferences, std::move(req),
                                                                      RespondWithProto<pb::Preferences>(respond));
      return true;
    }
    if (method == "PATCH") {
      pb::UpdatePreferencesRequest req;
      // The body is the request's JSON form (pushEnabled, emailEnabled, types, quietHours,
      // timeZone); unknown fields are refused so typos do not pass silently.
      auto parsed = google::protobuf::util::JsonStringToMessage(
          request.body().empty() ? std::string("{}") : std::string(request.body()), &req);
      if (!parsed.ok()) {
        SendError(respond, 422, "invalid_argument", "body: " + std::string(parsed.message()));
        return true;
      }
      req.set_user_id(user);  // always the caller, whatever the body says
      notifications_.Call<pb::UpdatePreferencesRequest, pb::Preferences>(&Stub::UpdatePreferences, std::move(req),
                                                                         RespondWithProto<pb::Preferences>(respond));
      return true;
    }
    return bad_method(), true;
  }

  if (parts.size() == 2 && parts[1] == "read") {
    int64_t id = 0;
    if (!absl::SimpleAtoi(parts[0], &id) || id <= 0) {
      SendError(respond, 400, "bad_request", "notification id: a positive number");
      return true;
    }
    if (method != "POST") return bad_method(), true;
    pb::MarkReadRequest req;
    req.set_user_id(user);
    req.set_notification_id(id);
    notifications_.Call<pb::MarkReadRequest, pb::MarkReadResponse>(&Stub::MarkRead, std::move(req),
                                                                   RespondWithProto<pb::MarkReadResponse>(respond));
    return true;
  }

  SendError(respond, 404, "not_found", "no such notification endpoint: " + info.path);
  return true;
}

}  // namespace sb::gateway
