// sb-presence: sessions, online / away / offline, last seen, watching (switchboard.presence.v1).
// Configuration: SB_* variables or --flags, see docs/presence.md.
#include "sb/common/config.h"
#include "sb/common/log.h"
#include "sb/common/shutdown.h"
#include "services/presence/config.h"
#include "services/presence/server.h"

int main(int argc, char** argv) {
  sb::Shutdown shutdown;  // first: every thread started later inherits the blocked signals
  sb::log::Init("presence");
  sb::EnvConfig env(argc, argv);
  auto config = sb::presence::PresenceConfig::FromEnv(env);
  if (!config.ok()) {
    sb::log::Error("invalid configuration", {{"error", std::string(config.status().message())}});
    return 2;
  }
  sb::log::Level level;
  if (sb::log::ParseLevel(config->log_level, &level)) sb::log::Init("presence", level);
  boost::json::object effective;
  for (const auto& [name, value] : env.effective()) effective[name] = value;
  sb::log::Info("configuration", {{"effective", boost::json::value(std::move(effective))}});

  const absl::Duration grace = config->shutdown_grace;
  auto server = sb::presence::PresenceServer::Create(std::move(*config));
  if (!server.ok()) {
    sb::log::Error("presence cannot start", {{"error", server.status().ToString()}});
    return 1;
  }
  if (absl::Status started = (*server)->Start(); !started.ok()) {
    sb::log::Error("presence cannot start", {{"error", started.ToString()}});
    return 1;
  }
  shutdown.Add("presence", [&](absl::Time deadline) { (*server)->Shutdown(deadline); });
  int signal = shutdown.WaitForSignal();
  sb::log::Info("shutdown requested", {{"signal", signal}});
  shutdown.Run(grace);
  return 0;
}
