// A bounded pool of libpqxx connections to one Postgres database.
//
//   sb::db::ConnectionPool pool({.url = "postgresql://app@db:5432/switchboard", .max_connections = 10});
//   SB_ASSIGN_OR_RETURN(auto conn, pool.Acquire());
//   pqxx::work tx(*conn);  ...                                  // conn returns to the pool when it dies
//
// Most code should not touch connections directly but use RunInTransaction (sb/db/transaction.h),
// which adds retries and error mapping.
//
// Guarantees:
//  - At most `max_connections` connections exist at any time (open, being opened, or handed out).
//    Connections are opened lazily, only when no idle one is available.
//  - Acquire() waits at most `acquire_timeout` for a connection to free up, then fails with
//    ResourceExhausted ("connection pool exhausted"). If Postgres cannot be reached it fails with
//    Unavailable as soon as the connect attempt fails (bounded by `connect_timeout`).
//  - Broken connections are never handed out twice: a connection whose handle saw a connection
//    failure (MarkBroken, or !is_open() on release) is closed instead of returned, and an idle
//    connection whose socket has been closed by the server (restart, crash, idle kill) is dropped at
//    acquire time. After a Postgres restart the pool therefore recovers by itself: the next Acquire
//    opens fresh connections. Idle connections older than `health_check_after_idle` are also
//    checked with a cheap query before being handed out.
//  - libpqxx's silent reconnection ("reactivation") is disabled on pooled connections, so session
//    state (statement_timeout, application_name) is never silently lost.
//  - The pool is thread-safe. It must outlive every handle it gave out.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include <pqxx/connection>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sb::db {

struct PoolOptions {
  // libpq connection string: a URL ("postgresql://user:pw@host:5432/db?sslmode=...") or key=value
  // pairs ("host=... dbname=..."). connect_timeout / application_name below are appended unless the
  // string already sets them.
  std::string url;
  int max_connections = 10;
  // How long Acquire() waits for a connection to free up when all max_connections are in use.
  absl::Duration acquire_timeout = absl::Seconds(5);
  // libpq connect_timeout (whole seconds, rounded up; libpq treats values below 2 as 2).
  absl::Duration connect_timeout = absl::Seconds(5);
  // SET statement_timeout on every new connection; zero keeps the server default (usually none).
  absl::Duration statement_timeout = absl::ZeroDuration();
  std::string application_name = "switchboard";
  // An idle connection unused for longer than this is checked with `SELECT 1` before being handed
  // out (and replaced if that fails). Zero checks every time; InfiniteDuration() never does.
  absl::Duration health_check_after_idle = absl::Seconds(30);
  // Client-side network timeouts, so that a half-open TCP connection (peer gone without a FIN/RST)
  // cannot block a pool thread forever. Passed to libpq as keepalives=1, keepalives_idle,
  // keepalives_interval, keepalives_count and tcp_user_timeout (milliseconds), each unless the
  // connection string already sets it. Whole seconds, rounded up; tcp_keepalives false or a zero
  // duration leaves that parameter out (the OS default applies).
  bool tcp_keepalives = true;
  absl::Duration keepalives_idle = absl::Seconds(30);
  absl::Duration keepalives_interval = absl::Seconds(10);
  int keepalives_count = 3;
  // How long sent data may stay unacknowledged before the kernel drops the connection.
  absl::Duration tcp_user_timeout = absl::Seconds(30);
};

class ConnectionPool;

// Exclusive use of one pooled connection; returns it to the pool on destruction. Move-only.
// Destroy every pqxx transaction on the connection before the handle.
class PooledConnection {
 public:
  PooledConnection() = default;
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  PooledConnection(const PooledConnection&) = delete;
  PooledConnection& operator=(const PooledConnection&) = delete;
  ~PooledConnection();

  pqxx::connection& operator*() const { return *conn_; }
  pqxx::connection* operator->() const { return conn_.get(); }
  pqxx::connection* get() const { return conn_.get(); }
  explicit operator bool() const { return conn_ != nullptr; }

  // The connection failed (e.g. a pqxx::broken_connection was seen): close it on release and count
  // it in broken_total().
  void MarkBroken() { broken_ = true; }
  // Close it on release without counting it as broken (e.g. its session state was changed).
  void Discard() { discard_ = true; }
  // Returns the connection to the pool now (the handle becomes empty).
  void Release();

 private:
  friend class ConnectionPool;
  PooledConnection(ConnectionPool* pool, std::unique_ptr<pqxx::connection> conn)
      : pool_(pool), conn_(std::move(conn)) {}

  ConnectionPool* pool_ = nullptr;
  std::unique_ptr<pqxx::connection> conn_;
  bool broken_ = false;
  bool discard_ = false;
};

class ConnectionPool {
 public:
  // Does not connect; the first Acquire() does. Invalid options (max_connections < 1) are clamped
  // to 1 rather than rejected, so construction never fails.
  explicit ConnectionPool(PoolOptions options);
  // Closes idle connections. All handles must have been released.
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A healthy connection, waiting up to options().acquire_timeout (or `timeout`) for one to free
  // up. Errors: ResourceExhausted (pool exhausted), Unavailable (cannot connect), or the mapped
  // error of the connection set-up statements.
  absl::StatusOr<PooledConnection> Acquire();
  absl::StatusOr<PooledConnection> Acquire(absl::Duration timeout);

  // Closes every idle connection (handed-out ones are unaffected). Useful after a known failover.
  void DropIdle();

  const PoolOptions& options() const { return options_; }

  // Plain counters for metrics; each is a consistent snapshot of one value.
  int in_use() const;         // handed out now
  int idle() const;           // open and waiting in the pool
  int size() const;           // in_use + idle + being opened; never exceeds max_connections
  int max_size() const { return options_.max_connections; }
  int64_t opened_total() const;     // connections successfully opened
  int64_t broken_total() const;     // connections discarded because they failed
  int64_t waits_total() const;      // Acquire calls that had to wait for a connection to free up
  int64_t timeouts_total() const;   // Acquire calls that gave up (pool exhausted)
  int64_t connect_failures_total() const;

 private:
  friend class PooledConnection;
  struct IdleConnection {
    std::unique_ptr<pqxx::connection> conn;
    absl::Time idle_since;
  };

  absl::StatusOr<std::unique_ptr<pqxx::connection>> Open();
  bool Healthy(pqxx::connection& conn, absl::Time idle_since);
  void Return(std::unique_ptr<pqxx::connection> conn, bool broken, bool discard);

  const PoolOptions options_;
  const std::string conninfo_;

  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::deque<IdleConnection> idle_;  // most recently used at the back
  int in_use_ = 0;
  int opening_ = 0;
  int64_t opened_total_ = 0;
  int64_t broken_total_ = 0;
  int64_t waits_total_ = 0;
  int64_t timeouts_total_ = 0;
  int64_t connect_failures_total_ = 0;
};

// `url` with libpq parameter `key=value` appended (URL query parameter or key=value pair, matching
// the form of `url`), unless `url` already sets `key`. Exposed for tests.
std::string AddConnectionParameter(const std::string& url, const std::string& key, const std::string& value);

// The connection string the pool hands to libpq: options.url plus connect_timeout, application_name
// and the TCP keepalive / user-timeout parameters (see PoolOptions), none overriding the URL's own.
std::string BuildConnectionString(const PoolOptions& options);

// Readiness probe: true when Postgres hands out a connection within `timeout`, or when every
// connection is busy (the database answers, it is just loaded); false when it does not answer.
bool PostgresReachable(ConnectionPool& pool, absl::Duration timeout = absl::Seconds(1));

}  // namespace sb::db
