// gRPC client side: channels with a retry policy for idempotent methods, keepalive and message
// limits, and call contexts that always carry a deadline and the current request id.
//
//   sb::rpc::ClientOptions opts;
//   opts.idempotent_methods = {"/switchboard.chat.v1.ChatService/GetConversation",
//                              "switchboard.presence.v1.PresenceService/*"};
//   SB_ASSIGN_OR_RETURN(auto channel, sb::rpc::MakeChannel("chat:7001", opts));
//   auto stub = switchboard::chat::v1::ChatService::NewStub(channel);
//   auto ctx = sb::rpc::NewCallContext(opts);           // deadline now + opts.default_timeout
//   grpc::Status s = stub->GetConversation(ctx.get(), req, &resp);
//
// Retries. Only the methods named in idempotent_methods are retried, and only on UNAVAILABLE by
// default (the server never started the work, or the connection broke); a retry of a
// non-idempotent call could apply it twice. All attempts share the call's one deadline.
// gRPC 1.51 enables retries by default; MakeChannel also sets GRPC_ARG_ENABLE_RETRIES explicitly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sb::rpc {

struct RetryPolicy {
  int max_attempts = 4;  // including the first; gRPC caps this at 5. Must be >= 2.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  double backoff_multiplier = 2.0;
  std::vector<grpc::StatusCode> retryable_codes = {grpc::StatusCode::UNAVAILABLE};
};

struct ClientOptions {
  absl::Duration default_timeout = absl::Seconds(5);  // deadline of NewCallContext(options)
  int max_message_bytes = 4 * 1024 * 1024;            // receive and send
  // Client pings detect dead connections; must stay above the server's min ping interval (10 s).
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  bool keepalive_permit_without_calls = false;
  // "/pkg.Service/Method", "pkg.Service/Method" or "pkg.Service/*" (every method of a service).
  std::vector<std::string> idempotent_methods;
  RetryPolicy retry;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // nullptr -> insecure (in-cluster)
};

// The service config JSON MakeChannel installs: round_robin load balancing over every address the
// target resolves to, and one methodConfig with the retry policy for the idempotent methods (none
// when there are none). InvalidArgument for a malformed method name or retry policy.
absl::StatusOr<std::string> ServiceConfigJson(const ClientOptions& options);

// A channel to `target` (any gRPC target, e.g. "dns:///chat:7001" or "127.0.0.1:7001"). The
// service config comes only from `options`, never from DNS TXT records.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientOptions& options);

// A context whose deadline is now + timeout, carrying sb::log::CurrentRequestId() (when set) as
// x-request-id metadata. With `parent` (the server call being handled), the deadline is the
// earlier of the two and cancellation of the parent propagates.
std::unique_ptr<grpc::ClientContext> NewCallContext(absl::Duration timeout,
                                                    const grpc::CallbackServerContext* parent = nullptr);
inline std::unique_ptr<grpc::ClientContext> NewCallContext(const ClientOptions& options,
                                                           const grpc::CallbackServerContext* parent = nullptr) {
  return NewCallContext(options.default_timeout, parent);
}

}  // namespace sb::rpc
