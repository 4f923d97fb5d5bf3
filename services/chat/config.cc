#include "services/chat/config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sb/common/service_settings.h"

#ifndef SB_CHAT_DEFAULT_MIGRATIONS_DIR
#define SB_CHAT_DEFAULT_MIGRATIONS_DIR "services/chat/migrations"
#endif

namespace sb::chat {

absl::StatusOr<ChatConfig> ChatConfig::FromEnv(sb::EnvConfig& env) {
  ChatConfig c;
  sb::ReadServiceSettings(env, "chat", c);

  c.migrations_dir = env.String("SB_CHAT_MIGRATIONS_DIR", SB_CHAT_DEFAULT_MIGRATIONS_DIR);


  auto& m = c.chat.moderation;
  m.send_rate = static_cast<int>(env.Int("SB_CHAT_SEND_RATE", m.send_rate, 0, 1'000'000));
  m.send_window = env.Duration("SB_CHAT_SEND_WINDOW", m.send_window);
  m.cooldown = env.Duration("SB_CHAT_COOLDOWN", m.cooldown);
  m.new_account_age = env.Duration("SB_CHAT_NEW_ACCOUNT_AGE", m.new_account_age);
  c.chat.typing_ttl = env.Duration("SB_CHAT_TYPING_TTL", c.chat.typing_ttl);
  c.chat.typing_rate = static_cast<int>(env.Int("SB_CHAT_TYPING_RATE", c.chat.typing_rate, 1, 1000));
  c.chat.send_writers = static_cast<int>(env.Int("SB_CHAT_SEND_WRITERS", c.chat.send_writers, 1, 64));
  c.chat.send_batch_max = static_cast<size_t>(env.Int("SB_CHAT_SEND_BATCH_MAX", static_cast<int64_t>(c.chat.send_batch_max), 1, 1000));
  c.chat.send_queue_max = static_cast<size_t>(env.Int("SB_CHAT_SEND_QUEUE_MAX", static_cast<int64_t>(c.chat.send_queue_max), 1, 1'000'000));
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
