#include "sb/rpc/server.h"

#include "sb/rpc/process.h"

#include <algorithm>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/time/clock.h"
#include "sb/common/log.h"
#include "sb/rpc/interceptor.h"

namespace sb::rpc {
namespace {

int Millis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, INT32_MAX));
}

std::string JoinHostPort(const std::string& host, int port) {
  bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) { DisableMutexDeadlockDetection(); }

Server::~Server() { Drain(absl::Now()); }

void Server::AddService(grpc::Service* service) { services_.push_back(service); }

absl::Status Server::Start() {
  if (server_) return absl::FailedPreconditionError("grpc server already started");
  // Both switches are process-wide in gRPC and read when the builder/server is created. The
  // reflection plugin, once initialised, applies to every server built later in the process; a
  // process runs one server, so that is acceptable.
  grpc::EnableDefaultHealthCheckService(options_.health_service);
  if (options_.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  std::string address = JoinHostPort(options_.host, options_.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
  // gRPC sets SO_REUSEPORT by default, which would let a second instance silently share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Millis(options_.keepalive_min_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, options_.keepalive_permit_without_calls ? 1 : 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(options_.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(options_.keepalive_timeout));
  if (options_.max_connection_idle) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(*options_.max_connection_idle));
  }
  if (options_.max_connection_age) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(*options_.max_connection_age));
  }
  if (options_.max_connection_age_grace) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, Millis(*options_.max_connection_age_grace));
  }
  for (grpc::Service* service : services_) builder.RegisterService(service);
  if (options_.interceptor) {
    metrics::Registry& registry = options_.registry ? *options_.registry : metrics::DefaultRegistry();
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<ObservabilityInterceptorFactory>(registry));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }

  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    port_ = 0;
    return absl::UnavailableError("grpc server: cannot listen on " + address);
  }
  SetServing(true);
  sb::log::Info("grpc server listening", {{"address", address}, {"port", port_},
                                           {"reflection", options_.reflection}});
  return absl::OkStatus();
}

std::string Server::address() const {
  std::string host = options_.host;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "::1";
  return JoinHostPort(host, port_);
}

void Server::SetServing(bool serving) {
  if (!server_) return;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(serving);
}

void Server::Drain(absl::Time deadline) {
  std::lock_guard lock(drain_mu_);
  if (!server_ || drained_) return;
  drained_ = true;
  SetServing(false);
  absl::Duration grace = std::min(options_.drain_grace, deadline - absl::Now());
  if (grace > absl::ZeroDuration()) {
    sb::log::Info("grpc server draining: answering NOT_SERVING", {{"grace_ms", absl::ToInt64Milliseconds(grace)}});
    absl::SleepFor(grace);
  }
  // Refuses new calls at once; waits for in-flight ones until the deadline, then cancels them.
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  sb::log::Info("grpc server stopped");
}

}  // namespace sb::rpc
