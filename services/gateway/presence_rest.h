// REST edge for presence ("Authorization: Bearer <JWT>"; the token's subject is the viewer, so the
// privacy rules of the presence service apply):
//
//   GET /api/v1/users/online-status?userIds=a,b,c   {users:[status...]} in request order; 1..1,000
//       ids (comma-separated and/or repeated userIds=); non-contacts look offline
//   GET /api/v1/presence/{conversationId}            {conversationId, users:[status...]} (members only)
// A status: {userId, isOnline, status, lastSeen, activity} (presence_handlers.h). Errors: 400 bad
// conversation id, 401 missing/bad token, 403 not a member, 404 unknown conversation, 405 wrong
// method, 422 bad ids, 503 presence (or chat) unavailable.
#pragma once

#include "sb/auth/verifier.h"
#include "sb/socketio/server/http.h"
#include "services/gateway/presence_handlers.h"

namespace sb::gateway {

class PresenceRest {
 public:
  // `presence` must outlive the PresenceRest.
  PresenceRest(sb::auth::Verifier verifier, PresenceClient& presence)
      : verifier_(std::move(verifier)), presence_(presence) {}

  // Serves the request when its path is one of the above (returns true); false otherwise.
  bool Handle(const socketio::server::Request& request, const socketio::server::RequestInfo& info,
              socketio::server::Responder respond);

 private:
  sb::auth::Verifier verifier_;
  PresenceClient& presence_;
};

}  // namespace sb::gateway
