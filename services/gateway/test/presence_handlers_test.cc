// The gateway's presence wiring that needs no server: argument parsing, the client status shape,
// error mapping and the presence settings.
#include <catch2/catch.hpp>

#include <google/protobuf/util/time_util.h>

#include <map>

#include "services/gateway/config.h"
#include "services/gateway/presence_handlers.h"

namespace json = boost::json;
namespace pb = ::switchboard::presence::v1;
using sb::gateway::UserIdsArg;

namespace {
sb::socketio::server::Message Msg(json::value arg) {
  sb::socketio::server::Message m;
  m.event = "presence:subscribe";
  m.args.push_back(std::move(arg));
  return m;
}
}  // namespace

TEST_CASE("presence:subscribe user ids: object or bare array of strings, capped") {
  auto ids = UserIdsArg(Msg(json::parse(R"({"userIds":["a","b"]})")), 200);
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"a", "b"});
  ids = UserIdsArg(Msg(json::parse(R"(["c"])")), 200);
  REQUIRE(ids);
  CHECK(*ids == std::vector<std::string>{"c"});
  CHECK_FALSE(UserIdsArg(Msg(json::parse(R"({"userIds":["a",1]})")), 200));
  CHECK_FALSE(UserIdsArg(Msg(json::parse(R"({"userIds":"a"})")), 200));
  CHECK_FALSE(UserIdsArg(Msg(json::parse(R"({"ids":["a"]})")), 200));
  CHECK_FALSE(UserIdsArg(Msg(json::parse(R"(["a","b","c"])")), 2));
  CHECK_FALSE(UserIdsArg(sb::socketio::server::Message{}, 200));
}

TEST_CASE("presence status JSON: lowercase status, RFC 3339 lastSeen with milliseconds or null") {
  pb::UserPresence p;
  p.set_user_id("bob");
  p.set_is_online(true);
  p.set_status(pb::STATUS_AWAY);
  p.set_activity("inbox");
  p.set_sessions(3);  // internal fields never reach clients
  p.set_connected(true);
  *p.mutable_last_seen() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(1'700'000'000'120);
  json::object o = sb::gateway::PresenceStatusJson(p);
  CHECK(o.at("userId").as_string() == "bob");
  CHECK(o.at("isOnline").as_bool());
  CHECK(o.at("status").as_string() == "away");
  CHECK(o.at("lastSeen").as_string() == "2023-11-14T22:13:20.120Z");
  CHECK(o.at("activity").as_string() == "inbox");
  CHECK_FALSE(o.contains("sessions"));
  CHECK_FALSE(o.contains("connected"));

  pb::UserPresence never;
  never.set_user_id("carol");
  never.set_status(pb::STATUS_OFFLINE);
  o = sb::gateway::PresenceStatusJson(never);
  CHECK(o.at("lastSeen").is_null());
  CHECK(o.at("status").as_string() == "offline");
  CHECK_FALSE(o.at("isOnline").as_bool());
}

TEST_CASE("presence errors: unavailable names the presence service") {
  auto e = sb::gateway::PresenceErrorFor(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed"));
  CHECK(e.code == "unavailable");
  CHECK(e.http_status == 503);
  CHECK(e.message.find("presence") != std::string::npos);
  e = sb::gateway::PresenceErrorFor(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "at most 1000 user ids"));
  CHECK(e.code == "invalid_argument");
  CHECK(e.message == "at most 1000 user ids");
}

TEST_CASE("presence settings") {
  std::map<std::string, std::string> vars{{"SB_JWT_SECRET", "0123456789abcdef0123456789abcdef"}};
  auto env_of = [&](std::map<std::string, std::string> extra) {
    for (auto& [k, v] : vars) extra.emplace(k, v);
    return sb::EnvConfig([extra](const std::string& name) -> std::optional<std::string> {
      auto it = extra.find(name);
      if (it == extra.end()) return std::nullopt;
      return it->second;
    });
  };
  auto env = env_of({});
  auto c = sb::gateway::GatewayConfig::FromEnv(env);
  REQUIRE(c.ok());
  CHECK(c->presence_addr.empty());
  CHECK(c->presence_renew_interval == std::chrono::seconds(20));
  CHECK(c->max_watched_per_socket == 200);

  env = env_of({{"SB_PRESENCE_ADDR", "presence:7002"}, {"SB_MAX_WATCHED_PER_SOCKET", "50"},
                {"SB_PRESENCE_RENEW_INTERVAL", "5s"}});
  c = sb::gateway::GatewayConfig::FromEnv(env);
  REQUIRE(c.ok());
  CHECK(c->presence_addr == "presence:7002");
  CHECK(c->max_watched_per_socket == 50);
  CHECK(c->presence_renew_interval == std::chrono::seconds(5));

  env = env_of({{"SB_PRESENCE_RENEW_INTERVAL", "2m"}});  // beyond any lease
  CHECK_FALSE(sb::gateway::GatewayConfig::FromEnv(env).ok());
}
