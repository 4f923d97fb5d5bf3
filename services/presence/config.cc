#include "services/presence/config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sb/common/service_settings.h"

#ifndef SB_PRESENCE_DEFAULT_MIGRATIONS_DIR
#define SB_PRESENCE_DEFAULT_MIGRATIONS_DIR "services/presence/migrations"
#endif

namespace sb::presence {

absl::StatusOr<PresenceConfig> PresenceConfig::FromEnv(sb::EnvConfig& env) {
  PresenceConfig c;
  sb::ReadServiceSettings(env, "presence", c);

  c.migrations_dir = env.String("SB_PRESENCE_MIGRATIONS_DIR", SB_PRESENCE_DEFAULT_MIGRATIONS_DIR);

  c.blocking_threads = static_cast<int>(env.Int("SB_BLOCKING_THREADS", c.blocking_threads, 1, 256));

  c.chat_addr = env.String("SB_CHAT_ADDR", "");
  c.chat_timeout = env.Duration("SB_CHAT_TIMEOUT", c.chat_timeout);

  auto& p = c.presence;
  p.lease = env.Duration("SB_PRESENCE_LEASE", p.lease);
  p.debounce = env.Duration("SB_PRESENCE_DEBOUNCE", p.debounce);
  p.idle_away = env.Duration("SB_PRESENCE_IDLE_AWAY", p.idle_away);
  p.flush_batch = static_cast<int>(env.Int("SB_PRESENCE_FLUSH_BATCH", p.flush_batch, 1, 10'000));
  c.sweep_interval = env.Duration("SB_PRESENCE_SWEEP_INTERVAL", c.sweep_interval);
  c.flush_interval = env.Duration("SB_PRESENCE_FLUSH_INTERVAL", c.flush_interval);

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
