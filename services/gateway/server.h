// GatewayServer: wires sb-gateway together and owns everything it runs.
//
//   HTTP port (Boost.Beast HttpServer): Socket.IO at /socket.io/ (EngineServer + socket.io Server
//     with Realtime on "/"), and through the fallback handler /metrics, /healthz, /readyz (503 while
//     draining or while Redis is unreachable), /internal/realtime/metrics (JSON), 404 JSON otherwise.
//   gRPC port: switchboard.gateway.v1.GatewayService, health, reflection when enabled.
//   Redis: a pooled client (publisher, recovery sessions, stream reads) used only from a
//     BlockingPool, and a BusSubscriber thread feeding Realtime.
//
// Shutdown(deadline), the SIGTERM path: readiness 503 and gRPC NOT_SERVING, stop accepting,
// socket.io Close() (sessions are saved for recovery, clients reconnect elsewhere), wait for the
// connections to close and their recovery saves to be written, gRPC drain, then the bus and the
// pool stop, and the I/O threads once their transports have finished — all before `deadline`.
// A server whose Create() or Start() failed part-way is torn down without draining (no crash).
//
// When the bus subscriber reconnects, every local connection is closed with a recoverable reason
// so that clients recover the events published meanwhile (Realtime::CloseConnectionsForResync).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/bus/publisher.h"
#include "sb/bus/subscriber.h"
#include "sb/common/blocking_pool.h"
#include "sb/metrics/admin_server.h"
#include "sb/redis/client.h"
#include "sb/rpc/server.h"
#include "sb/socketio/server/engine.h"
#include "sb/socketio/server/http.h"
#include "sb/socketio/server/server.h"
#include "services/gateway/chat_handlers.h"
#include "services/gateway/notification_rest.h"
#include "services/gateway/config.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/presence_handlers.h"
#include "services/gateway/presence_rest.h"
#include "services/gateway/realtime.h"
#include "services/gateway/redis_recovery_store.h"
#include "services/gateway/rest.h"

namespace sb::gateway {

class GatewayServer {
 public:
  // Builds every component (nothing listens yet). InvalidArgument for unusable settings (e.g. no
  // JWT key configured).
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Create(GatewayConfig config);
  ~GatewayServer();
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  // Binds the HTTP and gRPC ports and starts the I/O threads. Call once.
  absl::Status Start();
  // Graceful drain and stop (see the top of this file). Idempotent.
  void Shutdown(absl::Time deadline);

  uint16_t http_port() const;
  int grpc_port() const;
  Realtime& realtime() { return *realtime_; }

 private:
  explicit GatewayServer(GatewayConfig config);
  void ServeFallback(const socketio::server::Request& request, const socketio::server::RequestInfo& info,
                     socketio::server::Responder respond);
  void ScheduleSweep();

  GatewayConfig config_;
  boost::asio::io_context io_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<sb::BlockingPool> pool_;
  // Declared before the socket.io server so that it outlives every handler using it.
  std::unique_ptr<ChatClient> chat_;
  std::unique_ptr<ChatRest> chat_rest_;
  std::unique_ptr<NotificationClient> notifications_;
  std::unique_ptr<NotificationRest> notification_rest_;
  std::unique_ptr<PresenceClient> presence_;  // SB_PRESENCE_ADDR set
  std::unique_ptr<PresenceLeases> presence_leases_;
  std::unique_ptr<PresenceRest> presence_rest_;
  std::optional<sb::bus::Publisher> publisher_;
  std::shared_ptr<RedisRecoveryStore> recovery_;
  std::unique_ptr<socketio::server::EngineServer> engine_;
  std::unique_ptr<socketio::server::Server> sio_;
  std::unique_ptr<Realtime> realtime_;
  std::unique_ptr<sb::bus::BusSubscriber> bus_;
  std::unique_ptr<sb::metrics::AdminServer> admin_;  // not started: its Handle() serves our fallback
  std::unique_ptr<socketio::server::HttpServer> http_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<sb::rpc::Server> grpc_;
  // sb_gateway_backend_calls_{in_flight,shed_total}{service}: SB_MAX_BACKEND_CALLS at work.
  template <typename Client>
  void AddBackendMetrics(const std::string& service, const Client* client) {
    if (client == nullptr) return;
    auto& registry = sb::metrics::DefaultRegistry();
    backend_metrics_.push_back(registry.AddCallback(
        sb::metrics::MetricType::kGauge, "sb_gateway_backend_calls_in_flight", "Calls to a backend service in flight",
        {"service"}, {service}, [client] { return static_cast<double>(client->in_flight()); }));
    backend_metrics_.push_back(registry.AddCallback(
        sb::metrics::MetricType::kCounter, "sb_gateway_backend_calls_shed_total",
        "Calls not made because SB_MAX_BACKEND_CALLS were in flight (answered unavailable)", {"service"}, {service},
        [client] { return static_cast<double>(client->shed()); }));
  }
  std::vector<sb::metrics::CallbackHandle> backend_metrics_;  // declared after the clients: destroyed first
  std::unique_ptr<boost::asio::steady_timer> sweep_timer_;
  std::vector<std::thread> threads_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  // Set once Start() began starting threads/listeners: Shutdown of a server that Create() only
  // partially built (or that never started) just releases what exists.
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_sweep_{false};
};

}  // namespace sb::gateway
