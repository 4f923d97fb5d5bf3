// The gateway's side of the chat service: Socket.IO chat events and the async gRPC client they
// (and the REST endpoints, rest.h) use.
//
//   join:conversation   {conversationId}           -> Chat.GetConversation (participants only), then
//                                                     the socket joins room "conversation:{id}"
//                                                     (restored by connection state recovery only
//                                                     after chat confirms participation again, else
//                                                     `conversation:left` {conversationId, reason:
//                                                     forbidden | not_found | unavailable, message};
//                                                     chat's sb:control:leave-room takes removed or
//                                                     leaving members out, reason removed | left)
//   leave:conversation  {conversationId}           -> leaves the room (no chat call)
//   message:send        {conversationId, clientMessageId, content, type?, mediaUrl?} -> SendMessage
//   message:read        {conversationId, seq?}     -> MarkRead (seq omitted: everything)
//   message:edit        {messageId, content}       -> EditMessage
//   message:delete      {messageId}                -> DeleteMessage
//   typing:start/stop   {conversationId}           -> SetTyping
// Acks: {"ok":true,"data":<response as protobuf JSON>} or {"ok":false,"error":{"code","message"}},
// with the code mapped once from the gRPC status (ClientErrorFor). Ids may be JSON numbers or
// numeric strings; responses carry int64 ids as strings.
// On authentication the user's directory entry is upserted from the token claims (fire and
// forget, logged on failure). Every call has a deadline (SB_CHAT_TIMEOUT).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/json.hpp>
#include <google/protobuf/message.h>
#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "sb/rpc/async_client.h"
#include "sb/rpc/json.h"
#include "services/gateway/realtime.h"
#include "switchboard/chat/v1/chat.grpc.pb.h"

namespace sb::gateway {

// How a gRPC failure reaches clients: a stable code and an HTTP status.
struct ClientError {
  std::string code;  // forbidden, not_found, conflict, invalid_argument, rate_limited, unavailable, ...
  int http_status = 500;
  std::string message;
};
ClientError ClientErrorFor(const grpc::Status& status);

// Protobuf JSON (camelCase names, int64 as strings, defaults printed): sb/rpc/json.h.
using sb::rpc::ProtoToJson;

// A positive id given as a JSON number or a numeric string.
std::optional<int64_t> IdFrom(const boost::json::value* value);

// Async calls to ChatService with a deadline (SB_CHAT_TIMEOUT); `done` runs on a gRPC thread.
using ChatClient = sb::rpc::AsyncClient<switchboard::chat::v1::ChatService>;

// The Socket.IO room of a conversation: "conversation:{id}".
inline constexpr std::string_view kConversationRoomPrefix = "conversation:";
// The conversation id of a room named exactly as ConversationRoom makes it, else nullopt.
std::optional<int64_t> ConversationIdOfRoom(const std::string& room);

// Registers the chat event handlers, the recovered conversation-room check and the directory
// upsert on `realtime` (before Install()).
void InstallChatHandlers(Realtime& realtime, ChatClient& chat);

}  // namespace sb::gateway
