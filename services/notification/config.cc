#include "services/notification/config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sb/common/service_settings.h"

#ifndef SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR
#define SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR "services/notification/migrations"
#endif

namespace sb::notification {

absl::StatusOr<NotificationConfig> NotificationConfig::FromEnv(sb::EnvConfig& env) {
  NotificationConfig c;
  sb::ReadServiceSettings(env, "notification", c);

  c.migrations_dir = env.String("SB_NOTIFICATION_MIGRATIONS_DIR", SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR);


  c.presence_addr = env.String("SB_PRESENCE_ADDR", "");
  c.presence_timeout = env.Duration("SB_PRESENCE_TIMEOUT", c.presence_timeout);

  auto& n = c.notifications;
  n.collapse_window = env.Duration("SB_NOTIFICATION_COLLAPSE_WINDOW", n.collapse_window);
  n.retention = env.Duration("SB_NOTIFICATION_RETENTION", n.retention);
  n.many_chunk = static_cast<int>(env.Int("SB_NOTIFICATION_MANY_CHUNK", n.many_chunk, 1, 10'000));
  n.notify_writers = static_cast<int>(env.Int("SB_NOTIFICATION_WRITERS", n.notify_writers, 1, 64));
  n.notify_batch_max = static_cast<size_t>(
      env.Int("SB_NOTIFICATION_BATCH_MAX", static_cast<int64_t>(n.notify_batch_max), 1, 1000));
  n.notify_queue_max = static_cast<size_t>(
      env.Int("SB_NOTIFICATION_QUEUE_MAX", static_cast<int64_t>(n.notify_queue_max), 1, 1'000'000));

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
