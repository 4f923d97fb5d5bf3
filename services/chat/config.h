// ChatConfig: every setting of sb-chat, from SB_* variables (flags override) through
// sb::EnvConfig, so all bad values are reported at once. docs/chat.md lists them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/common/config.h"
#include "services/chat/chat.h"

namespace sb::chat {

struct ChatConfig {
  std::string instance_id;
  std::string log_level = "info";
  std::string grpc_host = "0.0.0.0";
  int grpc_port = 7001;
  bool grpc_reflection = true;
  std::string http_host = "0.0.0.0";
  int http_port = 9101;

  std::string postgres_url = "postgresql://postgres@127.0.0.1:5432/switchboard";
  int postgres_pool_size = 8;  // also the size of the blocking pool running the database work
  int blocking_queue = 4096;
  absl::Duration statement_timeout = absl::Seconds(5);
  std::string migrations_dir;  // SB_CHAT_MIGRATIONS_DIR; default: the source tree's migrations/

  std::string redis_url = "redis://127.0.0.1:6379";
  int redis_pool_size = 8;
  int64_t stream_max_length = 1000;

  ChatOptions chat;  // moderation and typing
  // Notification service for offline recipients (new_message); empty: log and count only.
  std::string notification_addr;
  absl::Duration notification_timeout = absl::Seconds(2);
  absl::Duration shutdown_grace = absl::Seconds(20);

  static absl::StatusOr<ChatConfig> FromEnv(sb::EnvConfig& env);
};

}  // namespace sb::chat
