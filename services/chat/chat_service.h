// ChatService (switchboard.chat.v1), callback API: translates protobuf <-> the Chat domain.
// Handlers never touch the database on gRPC threads: each call runs on the BlockingPool (sized to
// the Postgres pool) through sb::rpc::RunBlocking (full queue: RESOURCE_EXHAUSTED; deadline passed
// while queued: answered without running).
#pragma once

#include "sb/common/blocking_pool.h"
#include "services/chat/chat.h"
#include "switchboard/chat/v1/chat.grpc.pb.h"

namespace sb::chat {

class ChatService final : public switchboard::chat::v1::ChatService::CallbackService {
 public:
  ChatService(Chat& chat, sb::BlockingPool& pool) : chat_(chat), pool_(pool) {}

#define SB_CHAT_RPC(Method, Request, Response)                                                         \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                               \
                                   const switchboard::chat::v1::Request* request,                      \
                                   switchboard::chat::v1::Response* response) override;
  SB_CHAT_RPC(UpsertUser, UpsertUserRequest, User)
  SB_CHAT_RPC(GetOrCreateDirectConversation, GetOrCreateDirectConversationRequest, ConversationResponse)
  SB_CHAT_RPC(CreateGroup, CreateGroupRequest, ConversationResponse)
  SB_CHAT_RPC(GetConversation, GetConversationRequest, ConversationResponse)
  SB_CHAT_RPC(ListConversations, ListConversationsRequest, ListConversationsResponse)
  SB_CHAT_RPC(SetMuted, SetMutedRequest, ConversationResponse)
  SB_CHAT_RPC(AddParticipants, AddParticipantsRequest, ConversationResponse)
  SB_CHAT_RPC(RemoveParticipant, RemoveParticipantRequest, ConversationResponse)
  SB_CHAT_RPC(SetParticipantRole, SetParticipantRoleRequest, ConversationResponse)
  SB_CHAT_RPC(LeaveConversation, LeaveConversationRequest, LeaveConversationResponse)
  SB_CHAT_RPC(SendMessage, SendMessageRequest, SendMessageResponse)
  SB_CHAT_RPC(EditMessage, EditMessageRequest, MessageResponse)
  SB_CHAT_RPC(DeleteMessage, DeleteMessageRequest, MessageResponse)
  SB_CHAT_RPC(ListMessages, ListMessagesRequest, ListMessagesResponse)
  SB_CHAT_RPC(MarkRead, MarkReadRequest, MarkReadResponse)
  SB_CHAT_RPC(GetUnreadCounts, GetUnreadCountsRequest, GetUnreadCountsResponse)
  SB_CHAT_RPC(SetTyping, SetTypingRequest, SetTypingResponse)
  SB_CHAT_RPC(Block, BlockRequest, BlockResponse)
  SB_CHAT_RPC(Unblock, BlockRequest, BlockResponse)
  SB_CHAT_RPC(ListBlocked, ListBlockedRequest, ListBlockedResponse)
  SB_CHAT_RPC(FilterContacts, FilterContactsRequest, FilterContactsResponse)
  SB_CHAT_RPC(SetShadowed, SetShadowedRequest, SetShadowedResponse)
#undef SB_CHAT_RPC

 private:
  Chat& chat_;
  sb::BlockingPool& pool_;
};

}  // namespace sb::chat
