#include <catch2/catch.hpp>

#include <map>

#include "services/gateway/config.h"

using sb::gateway::GatewayConfig;

namespace {
sb::EnvConfig Env(std::map<std::string, std::string> vars, std::vector<std::string> args = {}) {
  return sb::EnvConfig(
      [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
      },
      std::move(args));
}
}  // namespace

TEST_CASE("defaults") {
  auto env = Env({{"SB_JWT_SECRET", "0123456789abcdef0123456789abcdef"}});
  auto c = GatewayConfig::FromEnv(env);
  REQUIRE(c.ok());
  CHECK(c->http_port == 8080);
  CHECK(c->grpc_port == 7000);
  CHECK(c->auth_timeout == std::chrono::seconds(10));
  CHECK(c->recovery_window == std::chrono::minutes(2));
  CHECK(c->shutdown_grace == std::chrono::seconds(20));
  CHECK(c->public_room_prefixes == std::vector<std::string>{"public:"});
  CHECK(c->allowed_origins.empty());
  CHECK_FALSE(c->instance_id.empty());
  CHECK(c->auth.hs256_secret == "0123456789abcdef0123456789abcdef");
}

TEST_CASE("values and flags are read") {
  auto env = Env({{"SB_HTTP_PORT", "9000"},
                  {"SB_ALLOWED_ORIGINS", "https://a.example, https://b.example"},
                  {"SB_IDLE_TIMEOUT", "90s"},
                  {"SB_EVENT_RATE", "5"},
                  {"SB_INSTANCE_ID", "gw-1"}},
                 {"--grpc-port=7100"});
  auto c = GatewayConfig::FromEnv(env);
  REQUIRE(c.ok());
  CHECK(c->http_port == 9000);
  CHECK(c->grpc_port == 7100);
  CHECK(c->allowed_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
  CHECK(c->idle_timeout == std::chrono::seconds(90));
  CHECK(c->event_rate == 5);
  CHECK(c->instance_id == "gw-1");
}

TEST_CASE("every bad value is reported at once") {
  auto env = Env({{"SB_HTTP_PORT", "70000"}, {"SB_AUTH_TIMEOUT", "soon"}, {"SB_MAX_CONNECTIONS_PER_IP", "-1"}},
                 {"--no-such-flag=1"});
  auto c = GatewayConfig::FromEnv(env);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
  const std::string msg(c.status().message());
  CHECK_THAT(msg, Catch::Contains("SB_HTTP_PORT"));
  CHECK_THAT(msg, Catch::Contains("SB_AUTH_TIMEOUT"));
  CHECK_THAT(msg, Catch::Contains("SB_MAX_CONNECTIONS_PER_IP"));
  CHECK_THAT(msg, Catch::Contains("SB_NO_SUCH_FLAG"));
}

TEST_CASE("contradictory settings are refused") {
  auto env = Env({{"SB_PUBLIC_ROOM_PREFIXES", "public:,user:"}, {"SB_RECOVERY_WINDOW", "100ms"},
                  {"SB_AUTH_TIMEOUT", "0s"}});
  auto c = GatewayConfig::FromEnv(env);
  REQUIRE_FALSE(c.ok());
  const std::string msg(c.status().message());
  CHECK_THAT(msg, Catch::Contains("private user rooms"));
  CHECK_THAT(msg, Catch::Contains("SB_RECOVERY_WINDOW"));
  CHECK_THAT(msg, Catch::Contains("SB_AUTH_TIMEOUT"));
}
