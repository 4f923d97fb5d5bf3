#include <catch2/catch.hpp>

#include <map>

#include "sb/common/config.h"
#include "sb/common/service_settings.h"

namespace {

sb::EnvConfig::Lookup From(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST_CASE("typed values are read from the environment with defaults") {
  sb::EnvConfig env(From({{"SB_PORT", "7101"}, {"SB_DEBUG", "yes"}, {"SB_GRACE", "1m30s"},
                          {"SB_ORIGINS", " a.example , ,b.example"}}));
  CHECK(env.Int("SB_PORT", 7001, 1, 65535) == 7101);
  CHECK(env.Int("SB_OTHER", 42, 0, 100) == 42);
  CHECK(env.Bool("SB_DEBUG", false));
  CHECK(env.Duration("SB_GRACE", absl::Seconds(1)) == absl::Seconds(90));
  CHECK(env.List("SB_ORIGINS", {}) == std::vector<std::string>{"a.example", "b.example"});
  CHECK(env.String("SB_NAME", "chat") == "chat");
  CHECK(env.status().ok());
}

TEST_CASE("every bad value is reported at once, naming variable and expectation") {
  sb::EnvConfig env(From({{"SB_PORT", "70000"}, {"SB_DEBUG", "maybe"}, {"SB_GRACE", "soon"}}));
  CHECK(env.Int("SB_PORT", 7001, 1, 65535) == 7001);
  env.Bool("SB_DEBUG", false);
  env.Duration("SB_GRACE", absl::Seconds(1));
  env.RequiredString("SB_SECRET");
  absl::Status st = env.status();
  REQUIRE(st.code() == absl::StatusCode::kInvalidArgument);
  std::string msg(st.message());
  CHECK_THAT(msg, Catch::Contains("SB_PORT='70000': expected an integer from 1 to 65535"));
  CHECK_THAT(msg, Catch::Contains("SB_DEBUG='maybe'"));
  CHECK_THAT(msg, Catch::Contains("SB_GRACE='soon'"));
  CHECK_THAT(msg, Catch::Contains("SB_SECRET is required"));
}

TEST_CASE("flags override the environment and unknown flags are errors") {
  sb::EnvConfig env(From({{"SB_GRPC_PORT", "7001"}}), {"--grpc-port=7201", "--log-level", "debug", "--bogus=1"});
  CHECK(env.Int("SB_GRPC_PORT", 1, 1, 65535) == 7201);
  CHECK(env.String("SB_LOG_LEVEL", "info") == "debug");
  absl::Status st = env.status();
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(std::string(st.message()), Catch::Contains("unknown flag for SB_BOGUS"));
}

TEST_CASE("secrets are masked in the effective configuration") {
  sb::EnvConfig env(From({{"SB_JWT_SECRET", "hunter2"}, {"SB_PORT", "1"}}));
  env.String("SB_JWT_SECRET", "");
  env.Int("SB_PORT", 0, 0, 10);
  CHECK(env.effective().at("SB_JWT_SECRET") == "<set>");
  CHECK(env.effective().at("SB_PORT") == "1");
}

TEST_CASE("durations parse in Go style and reject negatives") {
  CHECK(sb::ParseDuration("250ms") == absl::Milliseconds(250));
  CHECK(sb::ParseDuration("5") == absl::Seconds(5));
  CHECK(sb::ParseDuration("2h") == absl::Hours(2));
  CHECK_FALSE(sb::ParseDuration("-1s").has_value());
  CHECK_FALSE(sb::ParseDuration("").has_value());
  CHECK_FALSE(sb::ParseDuration("inf").has_value());
}

namespace {
struct WithDatabase {
  std::string instance_id, log_level = "info", grpc_host = "0.0.0.0", http_host = "0.0.0.0";
  int grpc_port = 7001, http_port = 9101;
  bool grpc_reflection = true;
  std::string postgres_url = "postgresql://x";
  int postgres_pool_size = 8;
  absl::Duration statement_timeout = absl::Seconds(5);
  absl::Duration shutdown_grace = absl::Seconds(20);
};
struct EdgeOnly {  // no database; a std::chrono grace
  std::string instance_id, log_level = "info", grpc_host = "0.0.0.0", http_host = "0.0.0.0";
  int grpc_port = 7000, http_port = 8080;
  bool grpc_reflection = true;
  std::string redis_url = "redis://x";
  int redis_pool_size = 8;
  std::chrono::milliseconds shutdown_grace{20'000};
};
}  // namespace

TEST_CASE("the shared service settings fill any config with those members") {
  sb::EnvConfig env(From({{"SB_GRPC_PORT", "7101"}, {"SB_POSTGRES_POOL_SIZE", "3"}, {"SB_SHUTDOWN_GRACE", "5s"},
                          {"SB_REDIS_URL", "redis://r:1"}, {"SB_INSTANCE_ID", "pod-7"}}));
  WithDatabase db;
  sb::ReadServiceSettings(env, "chat", db);
  CHECK(db.grpc_port == 7101);
  CHECK(db.http_port == 9101);  // unset: the struct's default
  CHECK(db.postgres_pool_size == 3);
  CHECK(db.shutdown_grace == absl::Seconds(5));
  CHECK(db.instance_id == "pod-7");
  EdgeOnly edge;
  sb::ReadServiceSettings(env, "gateway", edge);
  CHECK(edge.redis_url == "redis://r:1");
  CHECK(edge.shutdown_grace == std::chrono::milliseconds(5000));
  CHECK(env.status().ok());

  sb::EnvConfig bad(From({{"SB_GRPC_PORT", "70000"}, {"SB_POSTGRES_POOL_SIZE", "0"}}));
  WithDatabase other;
  sb::ReadServiceSettings(bad, "chat", other);
  CHECK_FALSE(bad.status().ok());  // both reported by the caller's status check
  CHECK(!sb::DefaultInstanceId("x").empty());
}
