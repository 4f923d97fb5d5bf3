// gRPC server bootstrap shared by every service: message-size limits, keepalive enforcement,
// the standard health service, optional reflection, and the metrics/access-log interceptor.
//
//   sb::rpc::Server server({.port = 7001, .reflection = dev_mode});
//   server.AddService(&chat_service);            // callback-API services (CallbackService)
//   SB_RETURN_IF_ERROR(server.Start());
//   shutdown.Add("grpc", [&](absl::Time deadline) { server.Drain(deadline); });
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/impl/service_type.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sb/metrics/metrics.h"

namespace sb::rpc {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0 binds an ephemeral port; see Server::port()
  int max_message_bytes = 4 * 1024 * 1024;  // receive and send; larger -> RESOURCE_EXHAUSTED

  // Keepalive enforcement: clients pinging more often than this (or without calls in flight when
  // not permitted) get GOAWAY "too_many_pings". Our clients ping every 30 s (see client.h).
  absl::Duration keepalive_min_ping_interval = absl::Seconds(10);
  bool keepalive_permit_without_calls = false;
  // Server-initiated pings that detect dead clients.
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Optional connection lifetime limits (unset = gRPC defaults, i.e. unlimited).
  std::optional<absl::Duration> max_connection_idle;
  std::optional<absl::Duration> max_connection_age;  // forces clients to re-resolve and rebalance
  std::optional<absl::Duration> max_connection_age_grace;

  bool reflection = false;      // server reflection (turn on in dev for grpcurl)
  bool health_service = true;   // grpc.health.v1.Health, SERVING after Start()
  // Drain(): how long to answer NOT_SERVING while still serving, so health-checking clients and
  // load balancers move away before the listener closes. Bounded by the drain deadline.
  absl::Duration drain_grace = absl::ZeroDuration();

  bool interceptor = true;  // per-method metrics and one JSON access-log line per call
  metrics::Registry* registry = nullptr;  // nullptr -> metrics::DefaultRegistry()
};

// Owns one grpc::Server. Services are borrowed and must outlive the server.
class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // Drain(now) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before Start(). Typically an implementation of a generated Foo::CallbackService.
  void AddService(grpc::Service* service);

  // Builds and starts the server; Unavailable if the address can't be bound. Call once.
  absl::Status Start();

  // The bound port (the real one when options.port was 0); 0 before Start().
  int port() const { return port_; }
  // "host:port" clients in this process can use, e.g. "127.0.0.1:41234" when host is 0.0.0.0.
  std::string address() const;

  // Sets the overall and per-service health status (no-op without the health service).
  void SetServing(bool serving);

  // Graceful stop: health NOT_SERVING, wait min(drain_grace, deadline), then stop accepting new
  // calls (refused with UNAVAILABLE) while in-flight calls may finish until `deadline`; calls
  // still running then are cancelled. Returns once the server is fully stopped. Idempotent.
  void Drain(absl::Time deadline);

  grpc::Server* grpc_server() { return server_.get(); }

 private:
  ServerOptions options_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex drain_mu_;
  bool drained_ = false;
};

}  // namespace sb::rpc
