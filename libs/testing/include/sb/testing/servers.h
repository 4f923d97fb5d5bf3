// Private, throw-away Postgres and Redis servers for integration tests.
//
// Each server runs as a child process on 127.0.0.1 and a free port, with its data in a fresh
// temporary directory that is removed when the object is destroyed. Nothing is shared with other
// tests or with a developer's own servers, so tests may stop, kill and restart them freely:
//
//   auto redis = sb::testing::RedisServer::Start();      // absl::StatusOr<std::unique_ptr<...>>
//   REQUIRE(redis.ok());
//   (*redis)->Stop();  (*redis)->Restart();               // same port, so clients can reconnect
//
// The children get SIGKILL if the thread that started them dies (PR_SET_PDEATHSIG), so a crashed
// test leaves no servers behind. Postgres refuses to run as root; when the tests run as root
// (CI), its processes run as the `postgres` user that Debian's postgresql package creates.
// Binaries: redis-server from PATH; initdb/postgres from SB_PG_BINDIR or the newest
// /usr/lib/postgresql/<version>/bin.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sb::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Runs a command to completion; returns its exit code, or an error if it could not be started.
// Output (stdout+stderr) goes to `log_path` when given.
absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv, const std::string& log_path = "");

class RedisServer {
 public:
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start();
  ~RedisServer();

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // "redis://127.0.0.1:<port>"
  std::string url() const;

  absl::Status Stop();     // SIGTERM, waits for exit
  absl::Status Kill();     // SIGKILL, waits for exit (a crash)
  absl::Status Resume();   // starts again on the same port after Stop/Kill; waits until it answers PING
  absl::Status Restart();  // Stop + Resume
  bool running() const { return pid_ > 0; }

 private:
  RedisServer() = default;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
};

class PostgresServer {
 public:
  // initdb (trust auth, UTF8, C locale, fsync off) and start; waits until it accepts connections.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // A libpq URL for `database` (default "postgres") as superuser postgres.
  std::string url(const std::string& database = "postgres") const;
  // CREATE DATABASE <name>; for tests that want a clean database of their own.
  absl::Status CreateDatabase(const std::string& name);

  absl::Status Stop();     // fast shutdown (SIGINT), waits for exit
  absl::Status Kill();     // SIGKILL of the postmaster
  absl::Status Resume();   // starts again on the same port; waits until it accepts connections
  absl::Status Restart();  // Stop + Resume
  bool running() const { return pid_ > 0; }

 private:
  PostgresServer() = default;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string dir_;
  std::string bindir_;
  pid_t pid_ = -1;
};

}  // namespace sb::testing
