#include "services/gateway/chat_handlers.h"


#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sb/common/log.h"
#include "sb/rpc/client.h"

namespace sb::gateway {

namespace json = boost::json;
namespace sio = sb::socketio::server;
namespace pb = ::switchboard::chat::v1;
using Stub = pb::ChatService::Stub::async_interface;

ClientError ClientErrorFor(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return {"invalid_argument", 422, status.error_message()};
    case grpc::StatusCode::NOT_FOUND:
      return {"not_found", 404, status.error_message()};
    case grpc::StatusCode::PERMISSION_DENIED:
      return {"forbidden", 403, status.error_message()};
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
      return {"conflict", 409, status.error_message()};
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return {"rate_limited", 429, status.error_message()};
    case grpc::StatusCode::UNAUTHENTICATED:
      return {"unauthenticated", 401, status.error_message()};
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return {"unavailable", 503, "chat service unavailable, try again"};
    default:
      // Internal details (SQL, stack) stay in the chat service's logs.
      return {"internal", 500, "internal error"};
  }
}

std::optional<int64_t> IdFrom(const json::value* value) {
  if (!value) return std::nullopt;
  int64_t id = 0;
  if (value->is_int64()) {
    id = value->as_int64();
  } else if (value->is_uint64() && value->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    id = static_cast<int64_t>(value->as_uint64());
  } else if (value->is_string()) {
    if (!absl::SimpleAtoi(std::string(value->as_string()), &id)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (id <= 0) return std::nullopt;
  return id;
}

namespace {

void Reply(const sio::Ack& ack, json::value body) {
  if (ack) ack(json::array{std::move(body)});
}
json::object Err(std::string_view code, std::string_view message) {
  return json::object{{"ok", false}, {"error", json::object{{"code", code}, {"message", message}}}};
}
json::object Ok(json::value data) { return json::object{{"ok", true}, {"data", std::move(data)}}; }

const json::object* Payload(const sio::Message& msg) {
  if (msg.args.empty() || !msg.args[0].is_object()) return nullptr;
  return &msg.args[0].as_object();
}

std::optional<std::string> StringField(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

// Answers the ack from the gRPC result: the response as data, or the mapped error.
template <typename Response>
std::function<void(const grpc::Status&, Response&)> AckWith(sio::Ack ack) {
  return [ack = std::move(ack)](const grpc::Status& status, Response& response) {
    if (!status.ok()) {
      ClientError e = ClientErrorFor(status);
      return Reply(ack, Err(e.code, e.message));
    }
    Reply(ack, Ok(ProtoToJson(response)));
  };
}

std::string ConversationRoom(int64_t id) { return std::string(kConversationRoomPrefix) + std::to_string(id); }

// Asks chat whether `user` still takes part in conversation `id` (the check join:conversation
// makes). An UNAVAILABLE answer (chat restarting, a dropped channel, calls shed) is asked once
// more; a DEADLINE_EXCEEDED one already waited a full timeout and is not.
void CheckParticipation(ChatClient& chat, const std::string& user, int64_t id, int attempt,
                        std::function<void(RecoveredRoomVerdict)> done) {
  pb::GetConversationRequest req;
  req.set_user_id(user);
  req.set_conversation_id(id);
  chat.Call<pb::GetConversationRequest, pb::ConversationResponse>(
      &Stub::GetConversation, std::move(req),
      [&chat, user, id, attempt, done = std::move(done)](const grpc::Status& status, pb::ConversationResponse&) mutable {
        RecoveredRoomVerdict verdict;
        if (status.ok()) {
          verdict.allowed = true;
          return done(std::move(verdict));
        }
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE && attempt == 1) {
          return CheckParticipation(chat, user, id, attempt + 1, std::move(done));
        }
        ClientError e = ClientErrorFor(status);
        sb::log::Info("recovered conversation room refused",
                      {{"user", user}, {"conversation", id}, {"reason", e.code}, {"error", status.error_message()}});
        verdict.event = "conversation:left";
        verdict.payload = json::object{{"conversationId", std::to_string(id)}, {"reason", e.code}, {"message", e.message}};
        done(std::move(verdict));
      });
}

}  // namespace

std::optional<int64_t> ConversationIdOfRoom(const std::string& room) {
  if (!room.starts_with(kConversationRoomPrefix)) return std::nullopt;
  int64_t id = 0;
  if (!absl::SimpleAtoi(room.substr(kConversationRoomPrefix.size()), &id) || id <= 0) return std::nullopt;
  if (ConversationRoom(id) != room) return std::nullopt;  // "+7", "007": not a room this gateway makes
  return id;
}

void InstallChatHandlers(Realtime& realtime, ChatClient& chat) {
  realtime.OnUserAuthenticated([&chat](const AuthenticatedUser& user) {
    pb::UpsertUserRequest req;
    req.set_user_id(user.user_id);
    req.set_username(user.username);
    req.set_display_name(user.display_name);
    req.set_avatar_url(user.avatar_url);
    chat.Call<pb::UpsertUserRequest, pb::User>(&Stub::UpsertUser, std::move(req),
                                               [user = user.user_id](const grpc::Status& status, pb::User&) {
                                                 if (!status.ok()) {
                                                   sb::log::Warn("user directory upsert failed",
                                                                 {{"user", user}, {"error", status.error_message()}});
                                                 }
                                               });
  });

  // A recovered socket keeps a conversation room only while chat still confirms participation.
  realtime.SetRecoveredRoomCheck(std::string(kConversationRoomPrefix),
                                 [&chat](const std::string& user, const std::string& room,
                                         std::function<void(RecoveredRoomVerdict)> done) {
                                   auto id = ConversationIdOfRoom(room);
                                   if (!id) return done(RecoveredRoomVerdict{});
                                   CheckParticipation(chat, user, *id, 1, std::move(done));
                                 });

  realtime.SetServiceHandler("join:conversation", [&realtime, &chat](const std::shared_ptr<sio::Socket>& socket,
                                                                     const std::string& user, sio::Message& msg,
                                                                     sio::Ack ack) {
    const json::object* p = Payload(msg);
    auto id = p ? IdFrom(p->if_contains("conversationId")) : std::nullopt;
    if (!id) return Reply(ack, Err("invalid_argument", "join:conversation needs {conversationId}"));
    pb::GetConversationRequest req;
    req.set_user_id(user);
    req.set_conversation_id(*id);
    chat.Call<pb::GetConversationRequest, pb::ConversationResponse>(
        &Stub::GetConversation, std::move(req),
        [&realtime, socket, ack, id = *id](const grpc::Status& status, pb::ConversationResponse&) {
          if (!status.ok()) {
            ClientError e = ClientErrorFor(status);
            return Reply(ack, Err(e.code, e.message));
          }
          const std::string room = ConversationRoom(id);
          realtime.JoinAuthorizedRoom(socket, room, [ack, id, room](absl::Status joined) {
            if (!joined.ok()) {
              return Reply(ack, Err(joined.code() == absl::StatusCode::kResourceExhausted ? "limit_exceeded" : "unavailable",
                                    std::string(joined.message())));
            }
            Reply(ack, Ok(json::object{{"conversationId", std::to_string(id)}, {"room", room}}));
          });
        });
  });

  realtime.SetServiceHandler("leave:conversation", [&realtime](const std::shared_ptr<sio::Socket>& socket,
                                                               const std::string&, sio::Message& msg, sio::Ack ack) {
    const json::object* p = Payload(msg);
    auto id = p ? IdFrom(p->if_contains("conversationId")) : std::nullopt;
    if (!id) return Reply(ack, Err("invalid_argument", "leave:conversation needs {conversationId}"));
    realtime.LeaveAuthorizedRoom(socket, ConversationRoom(*id));
    Reply(ack, Ok(json::object{{"conversationId", std::to_string(*id)}}));
  });

  realtime.SetServiceHandler("message:send", [&chat](const std::shared_ptr<sio::Socket>&, const std::string& user,
                                                     sio::Message& msg, sio::Ack ack) {
    const json::object* p = Payload(msg);
    auto id = p ? IdFrom(p->if_contains("conversationId")) : std::nullopt;
    auto client_id = p ? StringField(*p, "clientMessageId") : std::nullopt;
    if (!id || !client_id) {
      return Reply(ack, Err("invalid_argument", "message:send needs {conversationId, clientMessageId, content}"));
    }
    pb::SendMessageRequest req;
    req.set_user_id(user);
    req.set_conversation_id(*id);
    req.set_client_message_id(*client_id);
    req.set_content(StringField(*p, "content").value_or(""));
    std::string type = StringField(*p, "type").value_or("text");
    // "system" messages come from internal callers only, never from clients.
    if (type != "text" && type != "image") return Reply(ack, Err("invalid_argument", "type: one of text, image"));
    req.set_type(type);
    req.set_media_url(StringField(*p, "mediaUrl").value_or(""));
    chat.Call<pb::SendMessageRequest, pb::SendMessageResponse>(
        &Stub::SendMessage, std::move(req), [ack](const grpc::Status& status, pb::SendMessageResponse& response) {
          if (!status.ok()) {
            ClientError e = ClientErrorFor(status);
            return Reply(ack, Err(e.code, e.message));
          }
          json::value data = ProtoToJson(response.message());
          if (auto* o = data.if_object()) (*o)["created"] = response.created();
          Reply(ack, Ok(std::move(data)));
        });
  });

  realtime.SetServiceHandler("message:read", [&chat](const std::shared_ptr<sio::Socket>&, const std::string& user,
                                                     sio::Message& msg, sio::Ack ack) {
    const json::object* p = Payload(msg);
    auto id = p ? IdFrom(p->if_contains("conversationId")) : std::nullopt;
    if (!id) return Reply(ack, Err("invalid_argument", "message:read needs {conversationId, seq?}"));
    pb::MarkReadRequest req;
    req.set_user_id(user);
    req.set_conversation_id(*id);
    if (const auto* seq = p->if_contains("seq")) {
      auto value = IdFrom(seq);
      if (!value) return Reply(ack, Err("invalid_argument", "seq: a positive sequence number"));
      req.set_seq(*value);
    }
    chat.Call<pb::MarkReadRequest, pb::MarkReadResponse>(&Stub::MarkRead, std::move(req),
                                                         AckWith<pb::MarkReadResponse>(std::move(ack)));
  });

  realtime.SetServiceHandler("message:edit", [&chat](const std::shared_ptr<sio::Socket>&, const std::string& user,
                                                     sio::Message& msg, sio::Ack ack) {
    const json::object* p = Payload(msg);
    auto id = p ? IdFrom(p->if_contains("messageId")) : std::nullopt;
    auto content = p ? StringField(*p, "content") : std::nullopt;
    if (!id || !content) return Reply(ack, Err("invalid_argument", "message:edit needs {messageId, content}"));
    pb::EditMessageRequest req;
    req.set_user_id(user);
    req.set_message_id(*id);
    req.set_content(*content);
    chat.Call<pb::EditMessageRequest, pb::MessageResponse>(
        &Stub::EditMessage, std::move(req), [ack](const grpc::Status& status, pb::MessageResponse& response) {
          if (!status.ok()) {
            ClientError e = ClientErrorFor(status);
            return Reply(ack, Err(e.code, e.message));
          }
          Reply(ack, Ok(ProtoToJson(response.message())));
        });
  });

  realtime.SetServiceHandler("message:delete", [&chat](const std::shared_ptr<sio::Socket>&, const std::string& user,
                                                       sio::Message& msg, sio::Ack ack) {
    const json::object* p = Payload(msg);
    auto id = p ? IdFrom(p->if_contains("messageId")) : std::nullopt;
    if (!id) return Reply(ack, Err("invalid_argument", "message:delete needs {messageId}"));
    pb::DeleteMessageRequest req;
    req.set_user_id(user);
    req.set_message_id(*id);
    chat.Call<pb::DeleteMessageRequest, pb::MessageResponse>(
        &Stub::DeleteMessage, std::move(req), [ack](const grpc::Status& status, pb::MessageResponse& response) {
          if (!status.ok()) {
            ClientError e = ClientErrorFor(status);
            return Reply(ack, Err(e.code, e.message));
          }
          Reply(ack, Ok(ProtoToJson(response.message())));
        });
  });

  for (const bool typing : {true, false}) {
    realtime.SetServiceHandler(typing ? "typing:start" : "typing:stop",
                               [&chat, typing](const std::shared_ptr<sio::Socket>&, const std::string& user,
                                               sio::Message& msg, sio::Ack ack) {
                                 const json::object* p = Payload(msg);
                                 auto id = p ? IdFrom(p->if_contains("conversationId")) : std::nullopt;
                                 if (!id) return Reply(ack, Err("invalid_argument", "typing events need {conversationId}"));
                                 pb::SetTypingRequest req;
                                 req.set_user_id(user);
                                 req.set_conversation_id(*id);
                                 req.set_typing(typing);
                                 chat.Call<pb::SetTypingRequest, pb::SetTypingResponse>(
                                     &Stub::SetTyping, std::move(req), AckWith<pb::SetTypingResponse>(std::move(ack)));
                               });
  }
}

}  // namespace sb::gateway
