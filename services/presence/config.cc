#include "services/presence/config.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#ifndef SB_PRESENCE_DEFAULT_MIGRATIONS_DIR
#define SB_PRESENCE_DEFAULT_MIGRATIONS_DIR "services/presence/migrations"
#endif

namespace sb::presence {

absl::StatusOr<PresenceConfig> PresenceConfig::FromEnv(sb::EnvConfig& env) {
  PresenceConfig c;
  char host[256] = {0};
  const std::string default_id = (gethostname(host, sizeof(host) - 1) == 0 && host[0])
                                     ? absl::StrCat(host, "-", getpid())
                                     : absl::StrCat("presence-", getpid());
  c.instance_id = env.String("SB_INSTANCE_ID", default_id);
  c.log_level = env.String("SB_LOG_LEVEL", c.log_level);
  c.grpc_host = env.String("SB_GRPC_HOST", c.grpc_host);
  c.grpc_port = static_cast<int>(env.Int("SB_GRPC_PORT", c.grpc_port, 0, 65535));
  c.grpc_reflection = env.Bool("SB_GRPC_REFLECTION", c.grpc_reflection);
  c.http_host = env.String("SB_HTTP_HOST", c.http_host);
  c.http_port = static_cast<int>(env.Int("SB_HTTP_PORT", c.http_port, 0, 65535));

  c.postgres_url = env.String("SB_POSTGRES_URL", c.postgres_url);
  c.postgres_pool_size = static_cast<int>(env.Int("SB_POSTGRES_POOL_SIZE", c.postgres_pool_size, 1, 1000));
  c.statement_timeout = env.Duration("SB_POSTGRES_STATEMENT_TIMEOUT", c.statement_timeout);
  c.migrations_dir = env.String("SB_PRESENCE_MIGRATIONS_DIR", SB_PRESENCE_DEFAULT_MIGRATIONS_DIR);

  c.redis_url = env.String("SB_REDIS_URL", c.redis_url);
  c.redis_pool_size = static_cast<int>(env.Int("SB_REDIS_POOL_SIZE", c.redis_pool_size, 1, 1024));
  c.blocking_threads = static_cast<int>(env.Int("SB_BLOCKING_THREADS", c.blocking_threads, 1, 256));
  c.blocking_queue = static_cast<int>(env.Int("SB_BLOCKING_QUEUE", c.blocking_queue, 1, 1'000'000));

  c.chat_addr = env.String("SB_CHAT_ADDR", "");
  c.chat_timeout = env.Duration("SB_CHAT_TIMEOUT", c.chat_timeout);

  auto& p = c.presence;
  p.lease = env.Duration("SB_PRESENCE_LEASE", p.lease);
  p.debounce = env.Duration("SB_PRESENCE_DEBOUNCE", p.debounce);
  p.idle_away = env.Duration("SB_PRESENCE_IDLE_AWAY", p.idle_away);
  p.flush_batch = static_cast<int>(env.Int("SB_PRESENCE_FLUSH_BATCH", p.flush_batch, 1, 10'000));
  c.sweep_interval = env.Duration("SB_PRESENCE_SWEEP_INTERVAL", c.sweep_interval);
  c.flush_interval = env.Duration("SB_PRESENCE_FLUSH_INTERVAL", c.flush_interval);
  c.shutdown_grace = env.Duration("SB_SHUTDOWN_GRACE", c.shutdown_grace);

  std::vector<std::string> errors;
  absl::Status env_status = env.status();
  if (!env_status.ok()) errors.push_back(std::string(env_status.message()));
  // Sessions of a dead gateway must be gone within 90 s (lease + one sweep).
  if (p.lease < absl::Seconds(1) || p.lease > absl::Seconds(85)) errors.push_back("SB_PRESENCE_LEASE must be 1s..85s");
  if (p.debounce < absl::ZeroDuration() || p.debounce > absl::Minutes(1)) {
    errors.push_back("SB_PRESENCE_DEBOUNCE must be 0..1m");
  }
  if (p.idle_away < absl::ZeroDuration()) errors.push_back("SB_PRESENCE_IDLE_AWAY must not be negative");
  if (c.sweep_interval < absl::Milliseconds(50) || c.sweep_interval > absl::Seconds(5)) {
    errors.push_back("SB_PRESENCE_SWEEP_INTERVAL must be 50ms..5s");
  }
  if (c.flush_interval < absl::Milliseconds(100)) errors.push_back("SB_PRESENCE_FLUSH_INTERVAL must be at least 100ms");
  if (c.chat_timeout <= absl::ZeroDuration()) errors.push_back("SB_CHAT_TIMEOUT must be positive");
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  return c;
}

}  // namespace sb::presence
