// sb-notification: in-app notifications, templates, preferences, unread counters, realtime delivery
// (switchboard.notification.v1). Configuration: SB_* variables or --flags, see docs/notification.md.
#include "sb/common/config.h"
#include "sb/common/log.h"
#include "sb/common/shutdown.h"
#include "services/notification/config.h"
#include "services/notification/server.h"

int main(int argc, char** argv) {
  sb::Shutdown shutdown;  // first: every thread started later inherits the blocked signals
  sb::log::Init("notification");
  sb::EnvConfig env(argc, argv);
  auto config = sb::notification::NotificationConfig::FromEnv(env);
  if (!config.ok()) {
    sb::log::Error("invalid configuration", {{"error", std::string(config.status().message())}});
    return 2;
  }
  sb::log::Level level;
  if (sb::log::ParseLevel(config->log_level, &level)) sb::log::Init("notification", level);
  boost::json::object effective;
  for (const auto& [name, value] : env.effective()) effective[name] = value;
  sb::log::Info("configuration", {{"effective", boost::json::value(std::move(effective))}});

  const absl::Duration grace = config->shutdown_grace;
  auto server = sb::notification::NotificationServer::Create(std::move(*config));
  if (!server.ok()) {
    sb::log::Error("notification cannot start", {{"error", server.status().ToString()}});
    return 1;
  }
  if (absl::Status started = (*server)->Start(); !started.ok()) {
    sb::log::Error("notification cannot start", {{"error", started.ToString()}});
    return 1;
  }
  shutdown.Add("notification", [&](absl::Time deadline) { (*server)->Shutdown(deadline); });
  int signal = shutdown.WaitForSignal();
  sb::log::Info("shutdown requested", {{"signal", signal}});
  shutdown.Run(grace);
  return 0;
}
