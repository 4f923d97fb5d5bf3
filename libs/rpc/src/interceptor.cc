#include "sb/rpc/interceptor.h"

#include <chrono>

#include "sb/rpc/status.h"

namespace sb::rpc {

using grpc::experimental::InterceptionHookPoints;

bool IsValidRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string RequestId(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kRequestIdHeader);
  if (it == metadata.end()) return "";
  std::string id(it->second.data(), it->second.size());
  return IsValidRequestId(id) ? id : "";
}

std::string RequestId(const grpc::ServerContextBase* context) {
  return context == nullptr ? "" : RequestId(*context);
}

namespace {

// Health probes arrive every few seconds from orchestrators; logging each at info would drown
// the access log.
bool IsQuietMethod(const std::string& method) { return method.rfind("/grpc.health.v1.Health/", 0) == 0; }

// Lives exactly as long as the call's server context (gRPC owns and deletes it), which is what
// lets the request id string back the string_ref we insert into the client metadata.
class ObservabilityInterceptor : public grpc::experimental::Interceptor {
 public:
  ObservabilityInterceptor(grpc::experimental::ServerRpcInfo* info,
                           const ObservabilityInterceptorFactory::Metrics& metrics)
      : info_(info),
        metrics_(metrics),
        method_(info->method() != nullptr ? info->method() : "unknown"),
        start_(std::chrono::steady_clock::now()) {
    metrics_.started->Labels({method_}).Increment();
  }

  ~ObservabilityInterceptor() override {
    // A call torn down without sending a status (e.g. cancelled before the handler finished).
    if (!finished_) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call ended without a status"));
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      AdoptRequestId(methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && !finished_) {
      Finish(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void AdoptRequestId(std::multimap<grpc::string_ref, grpc::string_ref>* metadata) {
    if (metadata == nullptr) return;
    auto range = metadata->equal_range(kRequestIdHeader);
    if (range.first != range.second) {
      request_id_.assign(range.first->second.data(), range.first->second.size());
    }
    if (IsValidRequestId(request_id_) && std::next(range.first) == range.second) return;
    // Missing, malformed or repeated: replace every value with one id of our own.
    if (!IsValidRequestId(request_id_)) request_id_ = sb::log::NewRequestId();
    metadata->erase(range.first, range.second);
    metadata->emplace(grpc::string_ref(kRequestIdHeader), grpc::string_ref(request_id_));
  }

  void Finish(const grpc::Status& status) {
    finished_ = true;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string code = CodeName(status.error_code());
    metrics_.handled->Labels({method_, code}).Increment();
    metrics_.handling_seconds->Labels({method_}).Observe(seconds);

    if (request_id_.empty()) request_id_ = sb::log::NewRequestId();
    sb::log::Level level = sb::log::Level::kInfo;
    switch (status.error_code()) {
      case grpc::StatusCode::UNKNOWN:
      case grpc::StatusCode::INTERNAL:
      case grpc::StatusCode::DATA_LOSS:
        level = sb::log::Level::kWarn;  // our bugs, not the caller's
        break;
      default:
        if (IsQuietMethod(method_)) level = sb::log::Level::kDebug;
    }
    if (!sb::log::Enabled(level)) return;
    sb::log::RequestIdScope scope(request_id_);
    std::string peer = info_->server_context() != nullptr ? info_->server_context()->peer() : "";
    double duration_ms = static_cast<double>(static_cast<int64_t>(seconds * 1e6)) / 1e3;
    if (status.ok()) {
      sb::log::Write(level, "grpc call",
                     {{"method", method_}, {"code", code}, {"duration_ms", duration_ms}, {"peer", peer}});
    } else {
      sb::log::Write(level, "grpc call",
                     {{"method", method_},
                      {"code", code},
                      {"duration_ms", duration_ms},
                      {"peer", peer},
                      {"error", status.error_message()}});
    }
  }

  grpc::experimental::ServerRpcInfo* info_;
  ObservabilityInterceptorFactory::Metrics metrics_;  // pointers into the registry, which outlives calls
  std::string method_;
  std::chrono::steady_clock::time_point start_;
  std::string request_id_;
  bool finished_ = false;
};

}  // namespace

ObservabilityInterceptorFactory::ObservabilityInterceptorFactory(metrics::Registry& registry) {
  metrics_.started = &registry.Counter("sb_grpc_server_started_total", "RPCs started on the server.", {"method"});
  metrics_.handled = &registry.Counter("sb_grpc_server_handled_total",
                                       "RPCs completed on the server, by status code.", {"method", "code"});
  metrics_.handling_seconds =
      &registry.Histogram("sb_grpc_server_handling_seconds",
                          "Time from the start of an RPC to its status being sent, in seconds.", {"method"},
                          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
}

grpc::experimental::Interceptor* ObservabilityInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new ObservabilityInterceptor(info, metrics_);
}

}  // namespace sb::rpc
