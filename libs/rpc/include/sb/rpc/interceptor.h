// Server-side call observation: per-method metrics, one JSON access-log line per call, and the
// request id that ties a call's log lines together across services.
//
// Request ids. The interceptor takes the caller's "x-request-id" metadata when it is present and
// well-formed (1..128 chars of [A-Za-z0-9._:-]) or makes a new one (sb::log::NewRequestId()), and
// stores it back into the call's client metadata before the handler runs. So RequestId(context)
// works in every handler, whether the id came from the caller or was generated.
//
// Log lines. sb::log adds the *thread's* request id (RequestIdScope) to each line. Callback-API
// handlers run on gRPC threads that serve many calls, so the interceptor cannot set that scope for
// the handler. Instead a handler opens one itself:
//
//   grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, ...) override {
//     sb::rpc::CallScope scope(ctx);          // log lines below carry the call's request id
//     ...
//   }
//
// and work handed to another thread (sb::BlockingPool) captures RequestId(ctx) and opens an
// sb::log::RequestIdScope there. Outgoing client calls made inside a scope propagate the id
// (sb::rpc::NewCallContext reads sb::log::CurrentRequestId()).
//
// Metrics (labels: method = "/pkg.Service/Method", code = "OK", "UNAVAILABLE", ...):
//   sb_grpc_server_started_total{method}
//   sb_grpc_server_handled_total{method,code}
//   sb_grpc_server_handling_seconds{method}   histogram, from call start to status sent
#pragma once

#include <string>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

#include "sb/common/log.h"
#include "sb/metrics/metrics.h"

namespace sb::rpc {

inline constexpr char kRequestIdHeader[] = "x-request-id";

// The call's request id (see above); "" if the interceptor is not installed and the caller sent
// none or a malformed one.
std::string RequestId(const grpc::ServerContextBase& context);
std::string RequestId(const grpc::ServerContextBase* context);

// True if `id` is acceptable as a propagated request id (length and charset above).
bool IsValidRequestId(const std::string& id);

// Sets the calling thread's log request id to the call's for the scope's lifetime.
class CallScope {
 public:
  explicit CallScope(const grpc::ServerContextBase* context) : scope_(RequestId(context)) {}
  const std::string& request_id() const { return sb::log::CurrentRequestId(); }

 private:
  sb::log::RequestIdScope scope_;
};

// Installed by sb::rpc::Server (ServerOptions::interceptor); usable with a plain ServerBuilder
// via experimental().SetInterceptorCreators. Metric families are created in `registry`.
class ObservabilityInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ObservabilityInterceptorFactory(metrics::Registry& registry);
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

  struct Metrics {
    metrics::CounterFamily* started;
    metrics::CounterFamily* handled;
    metrics::HistogramFamily* handling_seconds;
  };

 private:
  Metrics metrics_;
};

}  // namespace sb::rpc
