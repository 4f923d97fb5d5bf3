#include "services/gateway/rest.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "services/gateway/rest_common.h"

namespace sb::gateway {

namespace json = boost::json;
namespace sio = sb::socketio::server;
namespace pb = ::switchboard::chat::v1;
using Stub = pb::ChatService::Stub::async_interface;

namespace {

constexpr std::string_view kPrefix = "/api/v1/chat";

json::value Field(const google::protobuf::Message& m, const char* name) {
  json::value v = ProtoToJson(m);
  return json::object{{name, std::move(v)}};
}

}  // namespace

bool ChatRest::Handle(const sio::Request& request, const sio::RequestInfo& info, sio::Responder respond) {
  if (info.path != kPrefix && !absl::StartsWith(info.path, std::string(kPrefix) + "/")) return false;

  std::optional<std::string> caller = AuthenticateRest(verifier_, info, respond);
  if (!caller) return true;
  const std::string user = *caller;

  // Body (JSON object) for writes.
  json::object body;
  if (!request.body().empty()) {
    boost::system::error_code ec;
    json::value parsed = json::parse(request.body(), ec);
    if (ec || !parsed.is_object()) {
      SendError(respond, 400, "bad_request", "the body must be a JSON object");
      return true;
    }
    body = std::move(parsed.as_object());
  }
  auto body_string = [&](const char* key) -> std::string {
    const auto* v = body.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto query_int = [&](const char* key, int64_t* out) -> bool {  // false: present but not a number
    auto q = info.Query(key);
    if (!q) return true;
    return absl::SimpleAtoi(absl::string_view(q->data(), q->size()), out) && *out >= 0;
  };

  // Segments after /api/v1/chat, each percent-decoded (user ids may contain '/' or spaces).
  const std::vector<std::string> parts(info.segments.begin() + std::min<size_t>(3, info.segments.size()),
                                       info.segments.end());
  const std::string& method = info.method;
  auto bad_method = [&] { SendError(respond, 405, "method_not_allowed", method + " not allowed on " + info.path); };
  auto path_id = [&](size_t i) -> std::optional<int64_t> {
    int64_t id = 0;
    if (i >= parts.size() || !absl::SimpleAtoi(parts[i], &id) || id <= 0) return std::nullopt;
    return id;
  };

  if (parts.size() == 1 && parts[0] == "conversations") {
    if (method == "GET") {
      pb::ListConversationsRequest req;
      req.set_user_id(user);
      int64_t limit = 0;
      if (!query_int("limit", &limit)) {
        SendError(respond, 422, "invalid_argument", "limit: a number 1..100");
        return true;
      }
      req.set_limit(static_cast<int32_t>(std::min<int64_t>(limit, 1000)));
      if (auto cursor = info.Query("cursor")) req.set_cursor(std::string(*cursor));
      chat_.Call<pb::ListConversationsRequest, pb::ListConversationsResponse>(
          &Stub::ListConversations, std::move(req),
          RespondWith<pb::ListConversationsResponse>(respond, [](pb::ListConversationsResponse& r) {
            return ProtoToJson(r);
          }));
      return true;
    }
    if (method == "POST") {
      if (body_string("type") == "group") {
        pb::CreateGroupRequest req;
        req.set_user_id(user);
        req.set_title(body_string("title"));
        if (const auto* ids = body.if_contains("participantIds"); ids && ids->is_array()) {
          for (const auto& id : ids->as_array()) {
            if (!id.is_string()) {
              SendError(respond, 422, "invalid_argument", "participantIds: user ids (strings)");
              return true;
            }
            req.add_participant_ids(std::string(id.as_string()));
          }
        }
        chat_.Call<pb::CreateGroupRequest, pb::ConversationResponse>(
            &Stub::CreateGroup, std::move(req),
            RespondWith<pb::ConversationResponse>(respond, [](pb::ConversationResponse& r) {
              return Field(r.conversation(), "conversation");
            }, 201));
        return true;
      }
      pb::GetOrCreateDirectConversationRequest req;
      req.set_user_id(user);
      req.set_other_user_id(body_string("participantId"));
      chat_.Call<pb::GetOrCreateDirectConversationRequest, pb::ConversationResponse>(
          &Stub::GetOrCreateDirectConversation, std::move(req),
          [respond](const grpc::Status& status, pb::ConversationResponse& r) {
            if (!status.ok()) {
              ClientError e = ClientErrorFor(status);
              return SendError(respond, e.http_status, e.code, e.message);
            }
            SendJson(respond, r.created() ? 201 : 200,
                 json::object{{"conversation", ProtoToJson(r.conversation())}, {"created", r.created()}});
          });
      return true;
    }
    bad_method();
    return true;
  }

  if (parts.size() >= 2 && parts[0] == "conversations") {
    auto id = path_id(1);
    if (!id) {
      SendError(respond, 400, "bad_request", "conversation id: a positive number");
      return true;
    }
    if (parts.size() == 2) {
      if (method != "GET") return bad_method(), true;
      pb::GetConversationRequest req;
      req.set_user_id(user);
      req.set_conversation_id(*id);
      chat_.Call<pb::GetConversationRequest, pb::ConversationResponse>(
          &Stub::GetConversation, std::move(req),
          RespondWith<pb::ConversationResponse>(respond, [](pb::ConversationResponse& r) {
            return Field(r.conversation(), "conversation");
          }));
      return true;
    }
    if (parts.size() == 3 && parts[2] == "messages") {
      if (method == "GET") {
        pb::ListMessagesRequest req;
        req.set_user_id(user);
        req.set_conversation_id(*id);
        int64_t before = -1, after = -1, limit = 0;
        if (!query_int("before", &before) || !query_int("after", &after) || !query_int("limit", &limit)) {
          SendError(respond, 422, "invalid_argument", "before, after, limit: non-negative numbers");
          return true;
        }
        if (info.Query("before")) req.set_before_seq(before);
        if (info.Query("after")) req.set_after_seq(after);
        req.set_limit(static_cast<int32_t>(std::min<int64_t>(limit, 1000)));
        chat_.Call<pb::ListMessagesRequest, pb::ListMessagesResponse>(
            &Stub::ListMessages, std::move(req),
            RespondWith<pb::ListMessagesResponse>(respond, [](pb::ListMessagesResponse& r) { return ProtoToJson(r); }));
        return true;
      }
      if (method == "POST") {
        pb::SendMessageRequest req;
        req.set_user_id(user);
        req.set_conversation_id(*id);
        req.set_client_message_id(body_string("clientMessageId"));
        req.set_content(body_string("content"));
        std::string type = body_string("type");
        if (type.empty()) type = "text";
        if (type != "text" && type != "image") {
          SendError(respond, 422, "invalid_argument", "type: one of text, image");
          return true;
        }
        req.set_type(type);
        req.set_media_url(body_string("mediaUrl"));
        chat_.Call<pb::SendMessageRequest, pb::SendMessageResponse>(
            &Stub::SendMessage, std::move(req), [respond](const grpc::Status& status, pb::SendMessageResponse& r) {
              if (!status.ok()) {
                ClientError e = ClientErrorFor(status);
                return SendError(respond, e.http_status, e.code, e.message);
              }
              SendJson(respond, r.created() ? 201 : 200,
                   json::object{{"message", ProtoToJson(r.message())}, {"created", r.created()}});
            });
        return true;
      }
      return bad_method(), true;
    }
    if (parts.size() == 3 && parts[2] == "read") {
      if (method != "POST") return bad_method(), true;
      pb::MarkReadRequest req;
      req.set_user_id(user);
      req.set_conversation_id(*id);
      if (const auto* seq = body.if_contains("seq")) {
        auto value = IdFrom(seq);
        if (!value) {
          SendError(respond, 422, "invalid_argument", "seq: a positive sequence number");
          return true;
        }
        req.set_seq(*value);
      }
      chat_.Call<pb::MarkReadRequest, pb::MarkReadResponse>(
          &Stub::MarkRead, std::move(req),
          RespondWith<pb::MarkReadResponse>(respond, [](pb::MarkReadResponse& r) { return ProtoToJson(r); }));
      return true;
    }
    if (parts.size() == 3 && parts[2] == "participants") {
      if (method != "POST") return bad_method(), true;
      pb::AddParticipantsRequest req;
      req.set_user_id(user);
      req.set_conversation_id(*id);
      if (const auto* ids = body.if_contains("participantIds"); ids && ids->is_array()) {
        for (const auto& v : ids->as_array()) {
          if (!v.is_string()) {
            SendError(respond, 422, "invalid_argument", "participantIds: user ids (strings)");
            return true;
          }
          req.add_participant_ids(std::string(v.as_string()));
        }
      }
      chat_.Call<pb::AddParticipantsRequest, pb::ConversationResponse>(
          &Stub::AddParticipants, std::move(req),
          RespondWith<pb::ConversationResponse>(respond, [](pb::ConversationResponse& r) {
            return Field(r.conversation(), "conversation");
          }));
      return true;
    }
    if (parts.size() == 4 && parts[2] == "participants") {
      const std::string& member = parts[3];
      if (method == "DELETE" && member == user) {  // removing yourself is leaving
        pb::LeaveConversationRequest req;
        req.set_user_id(user);
        req.set_conversation_id(*id);
        chat_.Call<pb::LeaveConversationRequest, pb::LeaveConversationResponse>(
            &Stub::LeaveConversation, std::move(req),
            RespondWith<pb::LeaveConversationResponse>(respond, [](pb::LeaveConversationResponse&) {
              return json::value(json::object{{"left", true}});
            }));
        return true;
      }
      if (method == "DELETE") {
        pb::RemoveParticipantRequest req;
        req.set_user_id(user);
        req.set_conversation_id(*id);
        req.set_participant_id(member);
        chat_.Call<pb::RemoveParticipantRequest, pb::ConversationResponse>(
            &Stub::RemoveParticipant, std::move(req),
            RespondWith<pb::ConversationResponse>(respond, [](pb::ConversationResponse& r) {
              return Field(r.conversation(), "conversation");
            }));
        return true;
      }
      if (method == "PATCH") {
        pb::SetParticipantRoleRequest req;
        req.set_user_id(user);
        req.set_conversation_id(*id);
        req.set_participant_id(member);
        req.set_role(body_string("role"));
        chat_.Call<pb::SetParticipantRoleRequest, pb::ConversationResponse>(
            &Stub::SetParticipantRole, std::move(req),
            RespondWith<pb::ConversationResponse>(respond, [](pb::ConversationResponse& r) {
              return Field(r.conversation(), "conversation");
            }));
        return true;
      }
      return bad_method(), true;
    }
    if (parts.size() == 3 && parts[2] == "mute") {
      if (method != "POST" && method != "DELETE") return bad_method(), true;
      pb::SetMutedRequest req;
      req.set_user_id(user);
      req.set_conversation_id(*id);
      bool muted = method == "POST";
      if (const auto* m = body.if_contains("muted"); m && method == "POST") {
        if (!m->is_bool()) {
          SendError(respond, 422, "invalid_argument", "muted: true or false");
          return true;
        }
        muted = m->as_bool();
      }
      req.set_muted(muted);
      chat_.Call<pb::SetMutedRequest, pb::ConversationResponse>(
          &Stub::SetMuted, std::move(req), RespondWith<pb::ConversationResponse>(respond, [](pb::ConversationResponse& r) {
            return Field(r.conversation(), "conversation");
          }));
      return true;
    }
  }

  if (parts.size() == 2 && parts[0] == "messages") {
    auto id = path_id(1);
    if (!id) {
      SendError(respond, 400, "bad_request", "message id: a positive number");
      return true;
    }
    if (method == "DELETE") {
      pb::DeleteMessageRequest req;
      req.set_user_id(user);
      req.set_message_id(*id);
      chat_.Call<pb::DeleteMessageRequest, pb::MessageResponse>(
          &Stub::DeleteMessage, std::move(req),
          RespondWith<pb::MessageResponse>(respond, [](pb::MessageResponse& r) { return Field(r.message(), "message"); }));
      return true;
    }
    if (method == "PATCH") {
      pb::EditMessageRequest req;
      req.set_user_id(user);
      req.set_message_id(*id);
      req.set_content(body_string("content"));
      chat_.Call<pb::EditMessageRequest, pb::MessageResponse>(
          &Stub::EditMessage, std::move(req),
          RespondWith<pb::MessageResponse>(respond, [](pb::MessageResponse& r) { return Field(r.message(), "message"); }));
      return true;
    }
    return bad_method(), true;
  }

  if (parts.size() == 1 && parts[0] == "unread-count") {
    if (method != "GET") return bad_method(), true;
    pb::GetUnreadCountsRequest req;
    req.set_user_id(user);
    chat_.Call<pb::GetUnreadCountsRequest, pb::GetUnreadCountsResponse>(
        &Stub::GetUnreadCounts, std::move(req),
        RespondWith<pb::GetUnreadCountsResponse>(respond, [](pb::GetUnreadCountsResponse& r) { return ProtoToJson(r); }));
    return true;
  }

  if (!parts.empty() && parts[0] == "blocks" && parts.size() <= 2) {
    if (parts.size() == 1 && method == "GET") {
      pb::ListBlockedRequest req;
      req.set_user_id(user);
      chat_.Call<pb::ListBlockedRequest, pb::ListBlockedResponse>(
          &Stub::ListBlocked, std::move(req),
          RespondWith<pb::ListBlockedResponse>(respond, [](pb::ListBlockedResponse& r) { return ProtoToJson(r); }));
      return true;
    }
    const bool block = parts.size() == 1 && method == "POST";
    const bool unblock = parts.size() == 2 && method == "DELETE";
    if (!block && !unblock) return bad_method(), true;
    pb::BlockRequest req;
    req.set_user_id(user);
    req.set_blocked_user_id(block ? body_string("userId") : parts[1]);
    ChatClient::AsyncMethod<pb::BlockRequest, pb::BlockResponse> call = &Stub::Block;
    if (unblock) call = &Stub::Unblock;
    chat_.Call<pb::BlockRequest, pb::BlockResponse>(
        call, std::move(req),
        RespondWith<pb::BlockResponse>(respond, [](pb::BlockResponse& r) { return ProtoToJson(r); }));
    return true;
  }

  SendError(respond, 404, "not_found", "no such chat endpoint: " + info.path);
  return true;
}

}  // namespace sb::gateway
