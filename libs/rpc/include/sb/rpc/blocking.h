// RunBlocking: the one way a callback-API unary handler does blocking work (libpqxx, synchronous
// Redis). `work` (returning absl::Status, filling the response) runs on `pool` inside the call's
// request-id scope, and the reactor is finished from there with the status mapped once
// (ToGrpcStatus). A full pool queue answers RESOURCE_EXHAUSTED at once; a call cancelled or past
// its deadline while queued is answered CANCELLED without running `work`.
//
//   grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const Req* req, Resp* resp) override {
//     return sb::rpc::RunBlocking(ctx, pool_, [this, req, resp]() -> absl::Status { ... });
//   }
#pragma once

#include <utility>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "sb/common/blocking_pool.h"
#include "sb/common/log.h"
#include "sb/rpc/interceptor.h"
#include "sb/rpc/status.h"

namespace sb::rpc {

template <typename Work>
grpc::ServerUnaryReactor* RunBlocking(grpc::CallbackServerContext* context, sb::BlockingPool& pool, Work work) {
  auto* reactor = context->DefaultReactor();
  absl::Status submitted =
      pool.Submit([context, reactor, work = std::move(work), rid = RequestId(context)]() mutable {
        sb::log::RequestIdScope scope(rid);
        if (context->IsCancelled()) {
          reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled or deadline exceeded while queued"));
          return;
        }
        reactor->Finish(ToGrpcStatus(work()));
      });
  if (!submitted.ok()) reactor->Finish(ToGrpcStatus(submitted));
  return reactor;
}

}  // namespace sb::rpc
