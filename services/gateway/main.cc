// sb-gateway: the edge gateway (Socket.IO, bus fan-out, GatewayService). Configuration: SB_*
// variables or --flags, see docs/gateway.md.
#include <iostream>

#include "sb/common/config.h"
#include "sb/common/log.h"
#include "sb/common/shutdown.h"
#include "services/gateway/config.h"
#include "services/gateway/server.h"

int main(int argc, char** argv) {
  sb::Shutdown shutdown;  // first: every thread started later inherits the blocked signals
  sb::log::Init("gateway");
  sb::EnvConfig env(argc, argv);
  auto config = sb::gateway::GatewayConfig::FromEnv(env);
  if (!config.ok()) {
    sb::log::Error("invalid configuration", {{"error", std::string(config.status().message())}});
    return 2;
  }
  sb::log::Level level;
  if (sb::log::ParseLevel(config->log_level, &level)) sb::log::Init("gateway", level);
  boost::json::object effective;
  for (const auto& [name, value] : env.effective()) effective[name] = value;
  sb::log::Info("configuration", {{"effective", boost::json::value(std::move(effective))}});

  const auto grace = absl::Milliseconds(config->shutdown_grace.count());
  auto server = sb::gateway::GatewayServer::Create(std::move(*config));
  if (!server.ok()) {
    sb::log::Error("gateway cannot start", {{"error", server.status().ToString()}});
    return 1;
  }
  if (absl::Status started = (*server)->Start(); !started.ok()) {
    sb::log::Error("gateway cannot start", {{"error", started.ToString()}});
    return 1;
  }
  shutdown.Add("gateway", [&](absl::Time deadline) { (*server)->Shutdown(deadline); });
  int signal = shutdown.WaitForSignal();
  sb::log::Info("shutdown requested", {{"signal", signal}});
  shutdown.Run(grace);
  return 0;
}
