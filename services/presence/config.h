// PresenceConfig: every setting of sb-presence, from SB_* variables (flags override) through
// sb::EnvConfig, so all bad values are reported at once. docs/presence.md lists them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/common/config.h"
#include "services/presence/presence.h"

namespace sb::presence {

struct PresenceConfig {
  std::string instance_id;
  std::string log_level = "info";
  std::string grpc_host = "0.0.0.0";
  int grpc_port = 7002;
  bool grpc_reflection = true;
  std::string http_host = "0.0.0.0";
  int http_port = 9102;

  std::string postgres_url = "postgresql://postgres@127.0.0.1:5432/switchboard";
  int postgres_pool_size = 4;
  absl::Duration statement_timeout = absl::Seconds(5);
  std::string migrations_dir;  // SB_PRESENCE_MIGRATIONS_DIR; default: the source tree's migrations/

  std::string redis_url = "redis://127.0.0.1:6379";
  int redis_pool_size = 8;
  int blocking_threads = 8;  // runs every RPC (Redis, Postgres and chat calls block)
  int blocking_queue = 4096;

  std::string chat_addr;  // SB_CHAT_ADDR; empty: no contacts, viewers see only themselves
  absl::Duration chat_timeout = absl::Seconds(3);

  PresenceOptions presence;
  absl::Duration sweep_interval = absl::Seconds(1);
  absl::Duration flush_interval = absl::Seconds(5);
  absl::Duration shutdown_grace = absl::Seconds(20);

  static absl::StatusOr<PresenceConfig> FromEnv(sb::EnvConfig& env);
};

}  // namespace sb::presence
