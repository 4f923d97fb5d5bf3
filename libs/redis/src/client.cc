#include "sb/redis/client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "connection.h"
#include "sb/common/status.h"

namespace sb::redis {

using internal::Connection;

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.pool_size < 1) return absl::InvalidArgumentError("redis: pool_size must be >= 1");
  if (options.connect_timeout <= absl::ZeroDuration() || options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis: timeouts must be positive");
  }
  SB_ASSIGN_OR_RETURN(Endpoint endpoint, ParseUrl(options.url));
  return std::unique_ptr<Client>(new Client(std::move(options), std::move(endpoint)));
}

Client::Client(ClientOptions options, Endpoint endpoint)
    : options_(std::move(options)), endpoint_(std::move(endpoint)) {}

Client::~Client() = default;

int Client::open_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

absl::StatusOr<std::unique_ptr<Connection>> Client::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.command_timeout);
  while (true) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->IdleAndAlive()) return conn;
      // Closed by the server while idle (restart, timeout, kill): drop it, try the next.
      --open_;
    }
    if (open_ < options_.pool_size) {
      ++open_;
      lock.unlock();
      // Connect without holding the lock so other callers are not serialized behind it.
      auto conn = Connection::Open(endpoint_, options_.connect_timeout, options_.command_timeout);
      if (!conn.ok()) {
        lock.lock();
        --open_;
        released_.notify_one();
      }
      return conn;
    }
    if (released_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.pool_size) {
      return absl::ResourceExhaustedError(
          absl::StrCat("redis: all ", options_.pool_size, " pooled connections busy"));
    }
  }
}

void Client::Release(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn->broken()) {
    --open_;  // its state is unknown after an error (e.g. a reply may still be in flight)
  } else {
    idle_.push_back(std::move(conn));
  }
  released_.notify_one();
}

absl::StatusOr<Reply> Client::Command(std::vector<std::string> args) {
  if (args.empty()) return absl::InvalidArgumentError("redis: empty command");
  std::vector<std::vector<std::string>> one;
  one.push_back(std::move(args));
  SB_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(std::move(one)));
  Reply& reply = replies.front();
  if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  return std::move(reply);
}

absl::StatusOr<std::vector<Reply>> Client::Pipeline(std::vector<std::vector<std::string>> commands) {
  std::vector<Reply> replies;
  if (commands.empty()) return replies;
  for (const auto& command : commands) {
    if (command.empty()) return absl::InvalidArgumentError("redis: empty command in pipeline");
  }
  SB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Acquire());
  absl::Status status;
  for (const auto& command : commands) {
    status = conn->Append(command);
    if (!status.ok()) break;
  }
  replies.reserve(commands.size());
  while (status.ok() && replies.size() < commands.size()) {
    auto reply = conn->Read();
    if (!reply.ok()) {
      status = reply.status();
      break;
    }
    replies.push_back(*std::move(reply));
  }
  Release(std::move(conn));
  if (!status.ok()) return status;
  return replies;
}

absl::Status Client::Ping() {
  SB_ASSIGN_OR_RETURN(Reply reply, Command({"PING"}));
  if (!reply.is_status() || reply.str != "PONG") {
    return absl::InternalError(absl::StrCat("redis: unexpected PING reply ", DebugString(reply)));
  }
  return absl::OkStatus();
}

}  // namespace sb::redis
