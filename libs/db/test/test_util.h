// Helpers shared by the db integration tests.
#pragma once

#include <memory>
#include <string>

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "sb/db/pool.h"
#include "sb/testing/servers.h"

namespace sb::db::test {

inline std::unique_ptr<sb::testing::PostgresServer> StartPostgres() {
  auto server = sb::testing::PostgresServer::Start();
  if (!server.ok()) FAIL("cannot start test Postgres: " << server.status().ToString());
  return *std::move(server);
}

inline PoolOptions OptionsFor(const sb::testing::PostgresServer& server, int max_connections = 4) {
  PoolOptions options;
  options.url = server.url();
  options.max_connections = max_connections;
  options.acquire_timeout = absl::Seconds(5);
  options.connect_timeout = absl::Seconds(2);
  options.application_name = "sb_db_test";
  return options;
}

// Runs one statement on a connection outside the pool; returns the first column of the first row
// ("" when there are no rows).
inline std::string QueryScalar(const sb::testing::PostgresServer& server, const std::string& sql) {
  pqxx::connection conn(server.url());
  pqxx::nontransaction tx(conn);
  pqxx::result result = tx.exec(sql);
  if (result.empty() || result[0][0].is_null()) return "";
  return result[0][0].as<std::string>();
}

}  // namespace sb::db::test
