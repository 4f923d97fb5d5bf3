// GatewayConfig: every setting of sb-gateway, read from SB_* variables (flags override) through
// sb::EnvConfig, so all bad values are reported at once. docs/gateway.md lists them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sb/auth/verifier.h"
#include "sb/common/config.h"

namespace sb::gateway {

struct GatewayConfig {
  std::string instance_id;  // SB_INSTANCE_ID, default "<hostname>-<pid>"
  std::string log_level = "info";

  // Listeners.
  std::string http_host = "0.0.0.0";
  int http_port = 8080;
  std::string grpc_host = "0.0.0.0";
  int grpc_port = 7000;
  bool grpc_reflection = true;
  int io_threads = 2;

  // Redis (bus, recovery sessions).
  std::string redis_url = "redis://127.0.0.1:6379";
  int redis_pool_size = 8;
  int blocking_threads = 4;  // Redis calls never run on Asio or gRPC threads
  int blocking_queue = 4096;

  sb::auth::AuthOptions auth;
  std::chrono::milliseconds auth_timeout{10'000};

  // Socket.IO / Engine.IO.
  std::chrono::milliseconds ping_interval{25'000};
  std::chrono::milliseconds ping_timeout{20'000};
  std::chrono::milliseconds connect_timeout{10'000};
  size_t max_payload = 1'000'000;
  std::chrono::seconds handshake_timeout{10};  // HttpServer io_timeout (slowloris)
  std::chrono::milliseconds recovery_window{120'000};
  int64_t stream_max_length = 1000;

  // Guardrails.
  std::vector<std::string> allowed_origins;  // empty: any
  int64_t max_connections = 100'000;           // per instance, 0: unlimited
  int64_t max_connections_per_ip = 0;          // Engine.IO connections per client address, 0: unlimited
  std::vector<std::string> trusted_proxies;    // peers whose X-Forwarded-For is believed; empty: none
  int64_t max_connections_per_origin = 0;      // 0: unlimited
  int max_rooms_per_socket = 100;
  int max_subscriptions_per_socket = 100;
  std::chrono::milliseconds idle_timeout{3'600'000};  // 0: never evict
  double event_rate = 20;   // events per second per socket, 0: unlimited
  double event_burst = 40;
  int abuse_threshold = 100;  // consecutive rate-limited events before disconnecting, 0: never
  std::vector<std::string> public_room_prefixes{"public:"};

  std::chrono::milliseconds shutdown_grace{20'000};

  // Chat service (chat events and /api/v1/chat); empty address: not deployed, events answer
  // "unsupported_event" and the REST paths 404.
  std::string chat_addr;
  std::chrono::milliseconds chat_timeout{5'000};  // deadline of every chat call
  // Calls to each backend service (chat, notification, presence) in flight at once from this
  // instance; past it the client gets an "unavailable" (retry) answer at once instead of a call
  // that queues behind an overloaded service and times out. 0: unlimited.
  int64_t max_backend_calls = 1000;

  // Notification service (/api/v1/notifications); empty address: not deployed, the paths 404.
  std::string notification_addr;
  std::chrono::milliseconds notification_timeout{5'000};  // deadline of every notification call

  // Presence service (sessions, presence events, /api/v1/users/online-status, /api/v1/presence);
  // empty address: not deployed, presence events answer "unsupported_event".
  std::string presence_addr;
  std::chrono::milliseconds presence_timeout{3'000};          // deadline of every presence call
  std::chrono::milliseconds presence_renew_interval{20'000};  // lease renewal of local sessions
  int max_watched_per_socket = 200;                           // presence:subscribe cap

  // Reads every SB_* variable of the gateway from `env`; InvalidArgument listing every bad value
  // (including unknown flags and settings that contradict each other).
  static absl::StatusOr<GatewayConfig> FromEnv(sb::EnvConfig& env);
};

}  // namespace sb::gateway
