#include "services/chat/config.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#ifndef SB_CHAT_DEFAULT_MIGRATIONS_DIR
#define SB_CHAT_DEFAULT_MIGRATIONS_DIR "services/chat/migrations"
#endif

namespace sb::chat {

absl::StatusOr<ChatConfig> ChatConfig::FromEnv(sb::EnvConfig& env) {
  ChatConfig c;
  char host[256] = {0};
  const std::string default_id =
      (gethostname(host, sizeof(host) - 1) == 0 && host[0]) ? absl::StrCat(host, "-", getpid()) : absl::StrCat("chat-", getpid());
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
  c.migrations_dir = env.String("SB_CHAT_MIGRATIONS_DIR", SB_CHAT_DEFAULT_MIGRATIONS_DIR);

  c.redis_url = env.String("SB_REDIS_URL", c.redis_url);
  c.redis_pool_size = static_cast<int>(env.Int("SB_REDIS_POOL_SIZE", c.redis_pool_size, 1, 1024));
  c.stream_max_length = env.Int("SB_STREAM_MAX_LENGTH", c.stream_max_length, 1, 1'000'000);

  auto& m = c.chat.moderation;
  m.send_rate = static_cast<int>(env.Int("SB_CHAT_SEND_RATE", m.send_rate, 0, 1'000'000));
  m.send_window = env.Duration("SB_CHAT_SEND_WINDOW", m.send_window);
  m.cooldown = env.Duration("SB_CHAT_COOLDOWN", m.cooldown);
  m.new_account_age = env.Duration("SB_CHAT_NEW_ACCOUNT_AGE", m.new_account_age);
  c.chat.typing_ttl = env.Duration("SB_CHAT_TYPING_TTL", c.chat.typing_ttl);
  c.chat.typing_rate = static_cast<int>(env.Int("SB_CHAT_TYPING_RATE", c.chat.typing_rate, 1, 1000));
  c.shutdown_grace = env.Duration("SB_SHUTDOWN_GRACE", c.shutdown_grace);
  c.notification_addr = env.String("SB_NOTIFICATION_ADDR", "");
  c.notification_timeout = env.Duration("SB_NOTIFICATION_TIMEOUT", c.notification_timeout);

  std::vector<std::string> errors;
  absl::Status env_status = env.status();
  if (!env_status.ok()) errors.push_back(std::string(env_status.message()));
  if (m.send_window <= absl::ZeroDuration()) errors.push_back("SB_CHAT_SEND_WINDOW must be positive");
  if (m.cooldown < absl::ZeroDuration()) errors.push_back("SB_CHAT_COOLDOWN must not be negative");
  if (m.new_account_age < absl::ZeroDuration()) errors.push_back("SB_CHAT_NEW_ACCOUNT_AGE must not be negative");
  if (c.chat.typing_ttl < absl::Seconds(1)) errors.push_back("SB_CHAT_TYPING_TTL must be at least 1s");
  if (c.notification_timeout <= absl::ZeroDuration()) errors.push_back("SB_NOTIFICATION_TIMEOUT must be positive");
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
  return c;
}

}  // namespace sb::chat
