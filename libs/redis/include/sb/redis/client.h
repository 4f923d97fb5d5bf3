// Client: a thread-safe Redis client over a bounded pool of synchronous hiredis connections.
//
//   auto client = sb::redis::Client::Create({.url = "redis://127.0.0.1:6379"});
//   auto reply = (*client)->Command({"SET", "k", "v"});
//
// Connections are opened lazily (Create never touches the network) and at most `pool_size` exist;
// a caller that finds every one busy waits up to `command_timeout` and then gets ResourceExhausted.
// A connection that failed (I/O error, timeout, protocol error) is closed, never reused; an idle
// connection that the server closed meanwhile (e.g. Redis restarted) is detected before use and
// replaced, so the pool recovers by itself after a Redis restart. While Redis is down every call
// fails fast with Unavailable (connection refused) instead of hanging.
//
// No call is ever retried: after an I/O error the command may or may not have run on the server.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/redis/reply.h"
#include "sb/redis/url.h"

namespace sb::redis {

struct ClientOptions {
  std::string url = "redis://127.0.0.1:6379";  // see ParseUrl
  int pool_size = 8;                            // max open connections, >= 1
  absl::Duration connect_timeout = absl::Seconds(1);
  // Bounds every socket read/write of a call (so a pipeline may take longer in total) and the wait
  // for a free pooled connection.
  absl::Duration command_timeout = absl::Seconds(2);
};

namespace internal {
class Connection;
}

class Client {
 public:
  // InvalidArgument for a bad URL or pool size. Does not connect.
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs one command (binary-safe args, e.g. {"SET", key, value}). A Redis error reply becomes a
  // Status (see ErrorReplyToStatus); I/O failures are Unavailable, socket timeouts DeadlineExceeded.
  absl::StatusOr<Reply> Command(std::vector<std::string> args);

  // Sends all commands on one connection, then reads all replies, in order. Error replies of
  // individual commands are KEPT as Reply::Type::kError in the result (one bad command does not
  // hide the others' results); only transport failures fail the whole call, and then any prefix
  // of the commands may have run. An empty list returns an empty vector without touching Redis.
  absl::StatusOr<std::vector<Reply>> Pipeline(std::vector<std::vector<std::string>> commands);

  // PING; OK when Redis answers. For readiness checks.
  absl::Status Ping();

  const Endpoint& endpoint() const { return endpoint_; }
  const ClientOptions& options() const { return options_; }
  // Connections currently open (idle + in use); for tests and metrics.
  int open_connections() const;

 private:
  Client(ClientOptions options, Endpoint endpoint);
  absl::StatusOr<std::unique_ptr<internal::Connection>> Acquire();
  void Release(std::unique_ptr<internal::Connection> conn);

  const ClientOptions options_;
  const Endpoint endpoint_;
  mutable std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<internal::Connection>> idle_;
  int open_ = 0;
};

}  // namespace sb::redis
