// NotificationConfig: every setting of sb-notification, from SB_* variables (flags override)
// through sb::EnvConfig, so all bad values are reported at once. docs/notification.md lists them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/common/config.h"
#include "services/notification/notifications.h"

namespace sb::notification {

struct NotificationConfig {
  std::string instance_id;
  std::string log_level = "info";
  std::string grpc_host = "0.0.0.0";
  int grpc_port = 7003;
  bool grpc_reflection = true;
  std::string http_host = "0.0.0.0";
  int http_port = 9103;

  std::string postgres_url = "postgresql://postgres@127.0.0.1:5432/switchboard";
  int postgres_pool_size = 8;  // also the size of the blocking pool running the database work
  int blocking_queue = 4096;
  absl::Duration statement_timeout = absl::Seconds(10);
  std::string migrations_dir;  // SB_NOTIFICATION_MIGRATIONS_DIR; default: the source tree's migrations/

  std::string redis_url = "redis://127.0.0.1:6379";
  int redis_pool_size = 8;
  int64_t stream_max_length = 1000;

  // Presence (live sessions); empty: the bus fallback only.
  std::string presence_addr;
  absl::Duration presence_timeout = absl::Seconds(1);

  NotificationOptions notifications;
  absl::Duration shutdown_grace = absl::Seconds(20);

  static absl::StatusOr<NotificationConfig> FromEnv(sb::EnvConfig& env);
};

}  // namespace sb::notification
