// REST edge for chat under /api/v1/chat (JSON, camelCase, "Authorization: Bearer <JWT>" verified
// with the gateway's Verifier). Every request becomes one async ChatService call with a deadline;
// the response is sent from the gRPC thread. Errors: HTTP status + {"error":{"code","message"}}:
// 400 malformed JSON / bad path id, 401 missing or bad token, 403 not a participant or blocked,
// 404 unknown conversation/message/route, 405 wrong method, 409 conflict, 422 invalid input,
// 429 rate limited, 503 chat unavailable.
//
//   GET    /api/v1/chat/conversations?limit=&cursor=          {conversations, nextCursor}
//   POST   /api/v1/chat/conversations {participantId}         direct (find-or-create; 201 if new)
//          /api/v1/chat/conversations {type:"group", title, participantIds}   group (201)
//   GET    /api/v1/chat/conversations/{id}                    {conversation}
//   GET    /api/v1/chat/conversations/{id}/messages?before=&after=&limit=   {messages, hasMore}
//   POST   /api/v1/chat/conversations/{id}/messages {clientMessageId, content, type?, mediaUrl?}
//   POST   /api/v1/chat/conversations/{id}/read {seq?}         {lastReadSeq, unreadCount, moved}
//   POST   /api/v1/chat/conversations/{id}/mute {muted?=true}; DELETE .../mute   {conversation}
//   POST   /api/v1/chat/conversations/{id}/participants {participantIds}         (admins) {conversation}
//   PATCH  /api/v1/chat/conversations/{id}/participants/{userId} {role}         (admins) {conversation}
//   DELETE /api/v1/chat/conversations/{id}/participants/{userId}  remove (admins); own id: leave {left}
//   PATCH  /api/v1/chat/messages/{id} {content}               {message}
//   DELETE /api/v1/chat/messages/{id}                         {message}
//   GET    /api/v1/chat/unread-count                          {total, perConversation}
//   GET    /api/v1/chat/blocks; POST /api/v1/chat/blocks {userId}; DELETE /api/v1/chat/blocks/{userId}
#pragma once

#include "sb/auth/verifier.h"
#include "sb/socketio/server/http.h"
#include "services/gateway/chat_handlers.h"

namespace sb::gateway {

class ChatRest {
 public:
  // Both must outlive the ChatRest.
  ChatRest(sb::auth::Verifier verifier, ChatClient& chat) : verifier_(std::move(verifier)), chat_(chat) {}

  // Serves the request when its path is under /api/v1/chat (returns true); false otherwise.
  bool Handle(const socketio::server::Request& request, const socketio::server::RequestInfo& info,
              socketio::server::Responder respond);

 private:
  sb::auth::Verifier verifier_;
  ChatClient& chat_;
};

}  // namespace sb::gateway
