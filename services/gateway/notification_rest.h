// REST edge for notifications under /api/v1/notifications (JSON, camelCase, "Authorization:
// Bearer <JWT>" verified with the gateway's Verifier; the user is always the token's `sub`). Every
// request becomes one async NotificationService call with a deadline (SB_NOTIFICATION_TIMEOUT);
// the response is sent from the gRPC thread. Errors: HTTP status + {"error":{"code","message"}}:
// 400 malformed JSON / bad path id, 401 missing or bad token, 404 unknown notification or route,
// 405 wrong method, 422 invalid input, 503 notification service unavailable.
//
//   GET   /api/v1/notifications?cursor=&limit=&unread=     {notifications, nextCursor, unreadCount}
//   GET   /api/v1/notifications/unread-count               {count}
//   POST  /api/v1/notifications/{id}/read                  {changed, unreadCount}
//   POST  /api/v1/notifications/read-all                   {marked, unreadCount}
//   GET   /api/v1/notifications/preferences                Preferences
//   PATCH /api/v1/notifications/preferences {pushEnabled?, emailEnabled?, types?: {type: bool},
//         quietHours?: {enabled, start: "HH:MM", end: "HH:MM"}, timeZone?}   Preferences
// Live events (notification:new, notification:unread) need nothing here: the notification service
// publishes them to the user's bus channel and Realtime emits them to every socket of the user.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "sb/auth/verifier.h"
#include "sb/rpc/async_client.h"
#include "sb/socketio/server/http.h"
#include "switchboard/notification/v1/notification.grpc.pb.h"

namespace sb::gateway {

// Async calls to NotificationService with a deadline; `done` runs on a gRPC thread.
using NotificationClient = sb::rpc::AsyncClient<switchboard::notification::v1::NotificationService>;

class NotificationRest {
 public:
  // `notifications` must outlive the NotificationRest.
  NotificationRest(sb::auth::Verifier verifier, NotificationClient& notifications)
      : verifier_(std::move(verifier)), notifications_(notifications) {}

  // Serves the request when its path is under /api/v1/notifications (returns true); false otherwise.
  bool Handle(const socketio::server::Request& request, const socketio::server::RequestInfo& info,
              socketio::server::Responder respond);

 private:
  sb::auth::Verifier verifier_;
  NotificationClient& notifications_;
};

}  // namespace sb::gateway
