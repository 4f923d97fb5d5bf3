#include "services/notification/config.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#ifndef SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR
#define SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR "services/notification/migrations"
#endif

namespace sb::notification {

absl::StatusOr<NotificationConfig> NotificationConfig::FromEnv(sb::EnvConfig& env) {
  NotificationConfig c;
  char host[256] = {0};
  const std::string default_id = (gethostname(host, sizeof(host) - 1) == 0 && host[0])
                                     ? absl::StrCat(host, "-", getpid())
                                     : absl::StrCat("notification-", getpid());
  c.instance_id = env.String("SB_INSTANCE_ID", default_id);
  c.log_level = env.String("SB_LOG_LEVEL", c.log_level);
  c.grpc_host = env.String("SB_GRPC_HOST", c.grpc_host);
  c.grpc_port = static_cast<int>(env.Int("SB_GRPC_PORT", c.grpc_port, 0, 65535));
  c.grpc_reflection = env.Bool("SB_GRPC_REFLECTION", c.grpc_reflection);
  c.http_host = env.String("SB_HTTP_HOST", c.http_host);
  c.http_port = static_cast<int>(env.Int("SB_HTTP_PORT", c.http_port, 0, 65535));

  c.postgres_url = env.String("SB_POSTGRES_URL", c.postgres_url);
  c.postgres_pool_size = static_cast<int>(env.Int("SB_POSTGRES_POOL_SIZE", c.postgres_pool_size, 1, 1000));
  c.blocking_queue = static_cast<int>(env.Int("SB_BLOCKING_QUEUE", c.blocking_queue, 1, 1'000'000));
  c.statement_timeout = env.Duration("SB_POSTGRES_STATEMENT_TIMEOUT", c.statement_timeout);
  c.migrations_dir = env.String("SB_NOTIFICATION_MIGRATIONS_DIR", SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR);

  c.redis_url = env.String("SB_REDIS_URL", c.redis_url);
  c.redis_pool_size = static_cast<int>(env.Int("SB_REDIS_POOL_SIZE", c.redis_pool_size, 1, 1024));
  c.stream_max_length = env.Int("SB_STREAM_MAX_LENGTH", c.stream_max_length, 1, 1'000'000);

  c.presence_addr = env.String("SB_PRESENCE_ADDR", "");
  c.presence_timeout = env.Duration("SB_PRESENCE_TIMEOUT", c.presence_timeout);

  auto& n = c.notifications;
  n.collapse_window = env.Duration("SB_NOTIFICATION_COLLAPSE_WINDOW", n.collapse_window);
  n.retention = env.Duration("SB_NOTIFICATION_RETENTION", n.retention);
  n.many_chunk = static_cast<int>(env.Int("SB_NOTIFICATION_MANY_CHUNK", n.many_chunk, 1, 10'000));
  c.shutdown_grace = env.Duration("SB_SHUTDOWN_GRACE", c.shutdown_grace);

  std::vector<std::string> errors;
  absl::Status env_status = env.status();
  if (!env_status.ok()) errors.push_back(std::string(env_status.message()));
  if (n.collapse_window < absl::ZeroDuration()) errors.push_back("SB_NOTIFICATION_COLLAPSE_WINDOW must not be negative");
  if (n.retention < absl::Hours(1)) errors.push_back("SB_NOTIFICATION_RETENTION must be at least 1h");
  if (c.presence_timeout <= absl::ZeroDuration()) errors.push_back("SB_PRESENCE_TIMEOUT must be positive");
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  return c;
}

}  // namespace sb::notification
