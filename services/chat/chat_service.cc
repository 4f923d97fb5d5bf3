#include "services/chat/chat_service.h"

#include "sb/common/log.h"
#include "sb/rpc/blocking.h"
#include "sb/rpc/status.h"
#include "services/chat/convert.h"

namespace sb::chat {

namespace pb = ::switchboard::chat::v1;

grpc::ServerUnaryReactor* ChatService::UpsertUser(grpc::CallbackServerContext* context, const pb::UpsertUserRequest* req,
                                                  pb::User* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto user = chat_.UpsertUser(User{req->user_id(), req->username(), req->display_name(), req->avatar_url(), false});
    if (!user.ok()) return user.status();
    ToProto(*user, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::GetOrCreateDirectConversation(grpc::CallbackServerContext* context,
                                                                     const pb::GetOrCreateDirectConversationRequest* req,
                                                                     pb::ConversationResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto result = chat_.GetOrCreateDirect(req->user_id(), req->other_user_id());
    if (!result.ok()) return result.status();
    ToProto(result->conversation, req->user_id(), resp->mutable_conversation());
    resp->set_created(result->created);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::CreateGroup(grpc::CallbackServerContext* context, const pb::CreateGroupRequest* req,
                                                   pb::ConversationResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    std::vector<std::string> members(req->participant_ids().begin(), req->participant_ids().end());
    auto conversation = chat_.CreateGroup(req->user_id(), req->title(), members);
    if (!conversation.ok()) return conversation.status();
    ToProto(*conversation, req->user_id(), resp->mutable_conversation());
    resp->set_created(true);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::GetConversation(grpc::CallbackServerContext* context,
                                                       const pb::GetConversationRequest* req,
                                                       pb::ConversationResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto conversation = chat_.GetConversation(req->user_id(), req->conversation_id());
    if (!conversation.ok()) return conversation.status();
    ToProto(*conversation, req->user_id(), resp->mutable_conversation());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::ListConversations(grpc::CallbackServerContext* context,
                                                         const pb::ListConversationsRequest* req,
                                                         pb::ListConversationsResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto page = chat_.ListConversations(req->user_id(), req->limit(), req->cursor());
    if (!page.ok()) return page.status();
    for (const auto& c : page->conversations) ToProto(c, req->user_id(), resp->add_conversations());
    resp->set_next_cursor(page->next_cursor);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::SetMuted(grpc::CallbackServerContext* context, const pb::SetMutedRequest* req,
                                                pb::ConversationResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto conversation = chat_.SetMuted(req->user_id(), req->conversation_id(), req->muted());
    if (!conversation.ok()) return conversation.status();
    ToProto(*conversation, req->user_id(), resp->mutable_conversation());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::AddParticipants(grpc::CallbackServerContext* context,
                                                       const pb::AddParticipantsRequest* req,
                                                       pb::ConversationResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    std::vector<std::string> members(req->participant_ids().begin(), req->participant_ids().end());
    auto conversation = chat_.AddParticipants(req->user_id(), req->conversation_id(), members);
    if (!conversation.ok()) return conversation.status();
    ToProto(*conversation, req->user_id(), resp->mutable_conversation());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::RemoveParticipant(grpc::CallbackServerContext* context,
                                                         const pb::RemoveParticipantRequest* req,
                                                         pb::ConversationResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto conversation = chat_.RemoveParticipant(req->user_id(), req->conversation_id(), req->participant_id());
    if (!conversation.ok()) return conversation.status();
    ToProto(*conversation, req->user_id(), resp->mutable_conversation());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::SetParticipantRole(grpc::CallbackServerContext* context,
                                                          const pb::SetParticipantRoleRequest* req,
                                                          pb::ConversationResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto conversation =
        chat_.SetParticipantRole(req->user_id(), req->conversation_id(), req->participant_id(), req->role());
    if (!conversation.ok()) return conversation.status();
    ToProto(*conversation, req->user_id(), resp->mutable_conversation());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::LeaveConversation(grpc::CallbackServerContext* context,
                                                         const pb::LeaveConversationRequest* req,
                                                         pb::LeaveConversationResponse*) {
  return sb::rpc::RunBlocking(context, pool_, [this, req]() -> absl::Status { return chat_.LeaveConversation(req->user_id(), req->conversation_id()); });
}

grpc::ServerUnaryReactor* ChatService::SendMessage(grpc::CallbackServerContext* context, const pb::SendMessageRequest* req,
                                                   pb::SendMessageResponse* resp) {
  // SendMessageAsync never blocks, so it runs right here on the callback thread; the write is
  // group-committed and the call finishes from the writer thread. No pool thread is involved.
  auto* reactor = context->DefaultReactor();
  chat_.SendMessageAsync(
      Chat::SendInput{.user = req->user_id(),
                      .conversation_id = req->conversation_id(),
                      .client_message_id = req->client_message_id(),
                      .type = req->type(),
                      .content = req->content(),
                      .media_url = req->media_url(),
                      .internal = req->type() == "system"},
      [reactor, resp](absl::StatusOr<ChatStore::SendResult> result) {
        if (!result.ok()) return reactor->Finish(sb::rpc::ToGrpcStatus(result.status()));
        ToProto(result->message, true, resp->mutable_message());
        resp->set_created(result->created);
        reactor->Finish(grpc::Status::OK);
      },
      [context] { return context->IsCancelled(); });
  return reactor;
}

grpc::ServerUnaryReactor* ChatService::EditMessage(grpc::CallbackServerContext* context, const pb::EditMessageRequest* req,
                                                   pb::MessageResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto message = chat_.EditMessage(req->user_id(), req->message_id(), req->content());
    if (!message.ok()) return message.status();
    ToProto(*message, true, resp->mutable_message());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::DeleteMessage(grpc::CallbackServerContext* context,
                                                     const pb::DeleteMessageRequest* req, pb::MessageResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto message = chat_.DeleteMessage(req->user_id(), req->message_id());
    if (!message.ok()) return message.status();
    ToProto(*message, true, resp->mutable_message());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::ListMessages(grpc::CallbackServerContext* context,
                                                    const pb::ListMessagesRequest* req, pb::ListMessagesResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto page = chat_.ListMessages(req->user_id(), req->conversation_id(), req->has_before_seq() ? req->before_seq() : -1,
                                   req->has_after_seq() ? req->after_seq() : -1,
                                   req->limit());
    if (!page.ok()) return page.status();
    for (const auto& m : page->messages) ToProto(m, m.sender_id == req->user_id(), resp->add_messages());
    resp->set_has_more(page->has_more);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::MarkRead(grpc::CallbackServerContext* context, const pb::MarkReadRequest* req,
                                                pb::MarkReadResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto result = chat_.MarkRead(req->user_id(), req->conversation_id(), req->seq());
    if (!result.ok()) return result.status();
    resp->set_last_read_seq(result->last_read_seq);
    resp->set_unread_count(static_cast<int32_t>(result->unread_count));
    resp->set_moved(result->moved);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::GetUnreadCounts(grpc::CallbackServerContext* context,
                                                       const pb::GetUnreadCountsRequest* req,
                                                       pb::GetUnreadCountsResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto counts = chat_.GetUnreadCounts(req->user_id());
    if (!counts.ok()) return counts.status();
    resp->set_total(static_cast<int32_t>(counts->total));
    for (const auto& [id, n] : counts->per_conversation) (*resp->mutable_per_conversation())[id] = static_cast<int32_t>(n);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::SetTyping(grpc::CallbackServerContext* context, const pb::SetTypingRequest* req,
                                                 pb::SetTypingResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto published = chat_.SetTyping(req->user_id(), req->conversation_id(), req->typing());
    if (!published.ok()) return published.status();
    resp->set_published(*published);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::Block(grpc::CallbackServerContext* context, const pb::BlockRequest* req,
                                             pb::BlockResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto changed = chat_.Block(req->user_id(), req->blocked_user_id());
    if (!changed.ok()) return changed.status();
    resp->set_changed(*changed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::Unblock(grpc::CallbackServerContext* context, const pb::BlockRequest* req,
                                               pb::BlockResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto changed = chat_.Unblock(req->user_id(), req->blocked_user_id());
    if (!changed.ok()) return changed.status();
    resp->set_changed(*changed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::ListBlocked(grpc::CallbackServerContext* context, const pb::ListBlockedRequest* req,
                                                   pb::ListBlockedResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    auto users = chat_.ListBlocked(req->user_id());
    if (!users.ok()) return users.status();
    for (const auto& u : *users) ToProto(u, resp->add_users());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::FilterContacts(grpc::CallbackServerContext* context,
                                                      const pb::FilterContactsRequest* req,
                                                      pb::FilterContactsResponse* resp) {
  return sb::rpc::RunBlocking(context, pool_, [this, req, resp]() -> absl::Status {
    std::vector<std::string> candidates(req->candidate_ids().begin(), req->candidate_ids().end());
    auto contacts = chat_.FilterContacts(req->user_id(), candidates);
    if (!contacts.ok()) return contacts.status();
    for (auto& id : *contacts) resp->add_contact_ids(std::move(id));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ChatService::SetShadowed(grpc::CallbackServerContext* context, const pb::SetShadowedRequest* req,
                                                   pb::SetShadowedResponse*) {
  return sb::rpc::RunBlocking(context, pool_, [this, req]() -> absl::Status {
    return chat_.SetShadowed(req->user_id(), req->shadowed(), req->reason());
  });
}

}  // namespace sb::chat
