#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include "sb/testing/servers.h"

namespace {

std::string QueryOne(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out = "<connect failed>";
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* res = PQexec(conn, sql.c_str());
    out = PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

}  // namespace

TEST_CASE("a private postgres starts, answers, survives a restart on the same port") {
  auto pg = sb::testing::PostgresServer::Start();
  REQUIRE(pg.ok());
  auto& server = **pg;
  CHECK(QueryOne(server.url(), "SELECT 40 + 2") == "42");
  REQUIRE(server.CreateDatabase("app").ok());
  CHECK(QueryOne(server.url("app"), "SELECT current_database()") == "app");

  REQUIRE(server.Stop().ok());
  CHECK(QueryOne(server.url() + "?connect_timeout=1", "SELECT 1") == "<connect failed>");
  REQUIRE(server.Resume().ok());
  CHECK(QueryOne(server.url("app"), "SELECT 1") == "1");
}

TEST_CASE("a private redis starts, stops and resumes on the same port") {
  auto redis = sb::testing::RedisServer::Start();
  REQUIRE(redis.ok());
  auto& server = **redis;
  CHECK(server.port() > 0);
  CHECK(server.running());
  REQUIRE(server.Kill().ok());
  CHECK_FALSE(server.running());
  REQUIRE(server.Resume().ok());
  CHECK(server.running());
  CHECK(server.url() == "redis://127.0.0.1:" + std::to_string(server.port()));
}
