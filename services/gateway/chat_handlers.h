// The gateway's side of the chat service: Socket.IO chat events and the async gRPC client they
// (and the REST endpoints, rest.h) use.
//
//   join:conversation   {conversationId}           -> Chat.GetConversation (participants only), then
//                                                     the socket joins room "conversation:{id}"
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

// Protobuf JSON (camelCase names, int64 as strings, defaults printed), parsed into a value.
boost::json::value ProtoToJson(const google::protobuf::Message& message);

// A positive id given as a JSON number or a numeric string.
std::optional<int64_t> IdFrom(const boost::json::value* value);

// Async calls to ChatService with a deadline; `done` runs on a gRPC thread.
class ChatClient {
 public:
  ChatClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);

  template <typename Request, typename Response>
  using AsyncMethod = void (switchboard::chat::v1::ChatService::Stub::async_interface::*)(
      grpc::ClientContext*, const Request*, Response*, std::function<void(grpc::Status)>);

  template <typename Request, typename Response>
  void Call(AsyncMethod<Request, Response> method, Request request,
            std::function<void(const grpc::Status&, Response&)> done) {
    struct State {
      std::unique_ptr<grpc::ClientContext> context;
      Request request;
      Response response;
    };
    auto state = std::make_shared<State>();
    state->context = NewContext();
    state->request = std::move(request);
    in_flight_.fetch_add(1);
    (stub_->async()->*method)(state->context.get(), &state->request, &state->response,
                              [this, state, done = std::move(done)](grpc::Status status) {
                                done(status, state->response);
                                in_flight_.fetch_sub(1);
                              });
  }

  // Waits until no call is in flight or `deadline` passes (shutdown: callbacks use Realtime and
  // sockets, which must outlive them). Returns the calls still in flight.
  int64_t WaitIdle(absl::Time deadline) const;

 private:
  std::atomic<int64_t> in_flight_{0};
  std::unique_ptr<grpc::ClientContext> NewContext() const;
  std::unique_ptr<switchboard::chat::v1::ChatService::Stub> stub_;
  absl::Duration timeout_;
};

// Registers the chat event handlers and the directory upsert on `realtime` (before Install()).
void InstallChatHandlers(Realtime& realtime, ChatClient& chat);

}  // namespace sb::gateway
