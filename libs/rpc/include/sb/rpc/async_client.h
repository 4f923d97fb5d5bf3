// AsyncClient<Service>: unary calls through a service's callback stub, each with a deadline and the
// caller's request id (NewCallContext), counted while in flight so that a shutting-down caller can
// wait for the callbacks that still use its state.
//
//   sb::rpc::AsyncClient<pb::ChatService> chat(channel, absl::Seconds(5));
//   chat.Call(&pb::ChatService::Stub::async_interface::GetConversation, std::move(request),
//             [](const grpc::Status& status, pb::ConversationResponse& response) { ... });
//
// `done` runs once per call on a gRPC thread and must not block. With max_in_flight > 0, a call
// made while that many are in flight is not sent: `done` runs inline in Call with UNAVAILABLE
// ("overloaded"), so an overloaded service sheds load at the caller instead of piling up calls that
// would time out anyway (each pending call costs both sides memory and CPU). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sb/rpc/client.h"

namespace sb::rpc {

template <typename Service>
class AsyncClient {
 public:
  using Stub = typename Service::Stub;
  template <typename Request, typename Response>
  using AsyncMethod = void (Stub::async_interface::*)(grpc::ClientContext*, const Request*, Response*,
                                                       std::function<void(grpc::Status)>);

  AsyncClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout, int64_t max_in_flight = 0)
      : stub_(Service::NewStub(std::move(channel))), timeout_(timeout), max_in_flight_(max_in_flight) {}

  template <typename Request, typename Response>
  void Call(AsyncMethod<Request, Response> method, Request request,
            std::function<void(const grpc::Status&, Response&)> done) {
    struct State {
      std::unique_ptr<grpc::ClientContext> context;
      Request request;
      Response response;
    };
    if (in_flight_.fetch_add(1) >= max_in_flight_ && max_in_flight_ > 0) {
      in_flight_.fetch_sub(1);
      shed_.fetch_add(1);
      Response unused;
      done(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "overloaded: " + std::to_string(max_in_flight_) + " calls in flight; retry later"),
           unused);
      return;
    }
    auto state = std::make_shared<State>();
    state->context = NewCallContext(timeout_);
    state->request = std::move(request);
    (stub_->async()->*method)(state->context.get(), &state->request, &state->response,
                              [this, state, done = std::move(done)](grpc::Status status) {
                                done(status, state->response);
                                in_flight_.fetch_sub(1);
                              });
  }

  // Waits until no call is in flight or `deadline` passes; returns the calls still in flight.
  int64_t WaitIdle(absl::Time deadline) const {
    while (in_flight_.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    return in_flight_.load();
  }
  int64_t in_flight() const { return in_flight_.load(); }
  uint64_t shed() const { return shed_.load(); }  // calls refused by max_in_flight
  absl::Duration timeout() const { return timeout_; }

 private:
  std::unique_ptr<Stub> stub_;
  absl::Duration timeout_;
  int64_t max_in_flight_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> shed_{0};
};

}  // namespace sb::rpc
