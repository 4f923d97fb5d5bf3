#include "services/gateway/config.h"

#include <climits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sb/common/service_settings.h"

namespace sb::gateway {
namespace {

std::chrono::milliseconds Ms(absl::Duration d) { return std::chrono::milliseconds(absl::ToInt64Milliseconds(d)); }

}  // namespace

absl::StatusOr<GatewayConfig> GatewayConfig::FromEnv(sb::EnvConfig& env) {
  GatewayConfig c;
  sb::ReadServiceSettings(env, "gateway", c);
  c.io_threads = static_cast<int>(env.Int("SB_IO_THREADS", c.io_threads, 1, 256));

  c.blocking_threads = static_cast<int>(env.Int("SB_BLOCKING_THREADS", c.blocking_threads, 1, 256));

  c.auth = sb::auth::AuthOptionsFromEnv(env);
  c.auth_timeout = Ms(env.Duration("SB_AUTH_TIMEOUT", absl::Seconds(10)));

  c.ping_interval = Ms(env.Duration("SB_PING_INTERVAL", absl::Seconds(25)));
  c.ping_timeout = Ms(env.Duration("SB_PING_TIMEOUT", absl::Seconds(20)));
  c.connect_timeout = Ms(env.Duration("SB_CONNECT_TIMEOUT", absl::Seconds(10)));
  c.max_payload = static_cast<size_t>(env.Int("SB_MAX_PAYLOAD", static_cast<int64_t>(c.max_payload), 1024,
                                              64 * 1024 * 1024));
  c.handshake_timeout = std::chrono::seconds(
      absl::ToInt64Seconds(env.Duration("SB_HANDSHAKE_TIMEOUT", absl::Seconds(10))));
  c.recovery_window = Ms(env.Duration("SB_RECOVERY_WINDOW", absl::Minutes(2)));

  c.allowed_origins = env.List("SB_ALLOWED_ORIGINS", {});
  c.trusted_proxies = env.List("SB_TRUSTED_PROXIES", {});
  c.max_connections = env.Int("SB_MAX_CONNECTIONS", c.max_connections, 0, INT64_MAX);
  c.max_connections_per_ip = env.Int("SB_MAX_CONNECTIONS_PER_IP", c.max_connections_per_ip, 0, INT64_MAX);
  c.max_connections_per_origin =
      env.Int("SB_MAX_CONNECTIONS_PER_ORIGIN", c.max_connections_per_origin, 0, INT64_MAX);
  c.max_rooms_per_socket = static_cast<int>(env.Int("SB_MAX_ROOMS_PER_SOCKET", c.max_rooms_per_socket, 1, 100'000));
  c.max_subscriptions_per_socket = static_cast<int>(
      env.Int("SB_MAX_SUBSCRIPTIONS_PER_SOCKET", c.max_subscriptions_per_socket, 1, 100'000));
  c.idle_timeout = Ms(env.Duration("SB_IDLE_TIMEOUT", absl::Hours(1)));
  c.event_rate = static_cast<double>(env.Int("SB_EVENT_RATE", static_cast<int64_t>(c.event_rate), 0, 1'000'000));
  c.event_burst = static_cast<double>(env.Int("SB_EVENT_BURST", static_cast<int64_t>(c.event_burst), 1, 1'000'000));
  c.abuse_threshold = static_cast<int>(env.Int("SB_ABUSE_THRESHOLD", c.abuse_threshold, 0, 1'000'000));
  c.public_room_prefixes = env.List("SB_PUBLIC_ROOM_PREFIXES", c.public_room_prefixes);

  c.chat_addr = env.String("SB_CHAT_ADDR", "");
  c.chat_timeout = Ms(env.Duration("SB_CHAT_TIMEOUT", absl::Seconds(5)));
  c.max_backend_calls = env.Int("SB_MAX_BACKEND_CALLS", c.max_backend_calls, 0, 1'000'000);
  c.notification_addr = env.String("SB_NOTIFICATION_ADDR", "");
  c.notification_timeout = Ms(env.Duration("SB_NOTIFICATION_TIMEOUT", absl::Seconds(5)));
  c.presence_addr = env.String("SB_PRESENCE_ADDR", "");
  c.presence_timeout = Ms(env.Duration("SB_PRESENCE_TIMEOUT", absl::Seconds(3)));
  c.presence_renew_interval = Ms(env.Duration("SB_PRESENCE_RENEW_INTERVAL", absl::Seconds(20)));
  c.max_watched_per_socket =
      static_cast<int>(env.Int("SB_MAX_WATCHED_PER_SOCKET", c.max_watched_per_socket, 1, 1000));

  // Settings that are each valid but contradict one another.
  std::vector<std::string> errors;
  if (c.ping_interval.count() <= 0) errors.push_back("SB_PING_INTERVAL must be positive");
  if (c.ping_timeout.count() <= 0) errors.push_back("SB_PING_TIMEOUT must be positive");
  if (c.auth_timeout.count() <= 0) errors.push_back("SB_AUTH_TIMEOUT must be positive");
  if (c.connect_timeout.count() <= 0) errors.push_back("SB_CONNECT_TIMEOUT must be positive");
  if (c.handshake_timeout.count() <= 0) errors.push_back("SB_HANDSHAKE_TIMEOUT must be at least 1s");
  if (c.recovery_window.count() < 1000) errors.push_back("SB_RECOVERY_WINDOW must be at least 1s");
  if (c.chat_timeout.count() <= 0) errors.push_back("SB_CHAT_TIMEOUT must be positive");
  if (c.notification_timeout.count() <= 0) errors.push_back("SB_NOTIFICATION_TIMEOUT must be positive");
  if (c.presence_timeout.count() <= 0) errors.push_back("SB_PRESENCE_TIMEOUT must be positive");
  // The presence lease is 60 s by default (at most 85 s): renewals must come well within it.
  if (c.presence_renew_interval.count() < 100 || c.presence_renew_interval.count() > 30'000) {
    errors.push_back("SB_PRESENCE_RENEW_INTERVAL must be 100ms..30s");
  }
  if (c.idle_timeout.count() < 0) errors.push_back("SB_IDLE_TIMEOUT must not be negative");
  for (const auto& prefix : c.public_room_prefixes) {
    // "user:" rooms hold a user's sockets; letting clients join them would leak that user's events.
    if (prefix.rfind("user:", 0) == 0 || std::string("user:").rfind(prefix, 0) == 0) {
      errors.push_back(absl::StrCat("SB_PUBLIC_ROOM_PREFIXES: \"", prefix,
                                    "\" would let clients join private user rooms (\"user:...\")"));
    }
  }
  absl::Status env_status = env.status();
  if (!env_status.ok()) errors.insert(errors.begin(), std::string(env_status.message()));
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  return c;
}

}  // namespace sb::gateway
