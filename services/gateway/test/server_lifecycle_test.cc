// GatewayServer start-up failures end in a clean error, never in a crash while tearing down the
// partly built server. No Redis is needed: the URLs point nowhere.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "services/gateway/server.h"

namespace {
sb::gateway::GatewayConfig BaseConfig() {
  sb::gateway::GatewayConfig c;
  c.auth.hs256_secret = "unit-test-secret-0123456789-0123456789";
  c.http_host = "127.0.0.1";
  c.http_port = 0;
  c.grpc_host = "127.0.0.1";
  c.grpc_port = 0;
  c.io_threads = 1;
  c.blocking_threads = 1;
  return c;
}
}  // namespace

TEST_CASE("Create fails cleanly when Redis cannot be used (nothing built after the failure)") {
  auto c = BaseConfig();
  c.redis_url = "rediss://x";  // TLS is not supported: refused by redis::Client::Create
  auto server = sb::gateway::GatewayServer::Create(std::move(c));
  REQUIRE_FALSE(server.ok());
  CHECK(server.status().code() == absl::StatusCode::kUnimplemented);
}

TEST_CASE("Start fails cleanly when the HTTP port is taken; Shutdown and the destructor are safe") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto c = BaseConfig();
  c.redis_url = "redis://127.0.0.1:1";  // never reached: connections are made lazily / in background
  taken.listen();
  c.http_port = taken.local_endpoint().port();
  auto server = sb::gateway::GatewayServer::Create(std::move(c));
  REQUIRE(server.ok());
  absl::Status started = (*server)->Start();
  CHECK_FALSE(started.ok());
  (*server)->Shutdown(absl::Now() + absl::Seconds(2));
  (*server)->Shutdown(absl::Now() + absl::Seconds(2));  // idempotent
  server->reset();
  SUCCEED("no crash");
}
