#include "connection.h"

#include <poll.h>
#include <sys/time.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "sb/common/status.h"

namespace sb::redis::internal {

Reply ToReply(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(r->integer);
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(r->str, r->len));
    case REDIS_REPLY_STRING:
      return Reply::String(std::string(r->str, r->len));
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) elements.push_back(ToReply(r->element[i]));
      return Reply::Array(std::move(elements));
    }
    default:
      return Reply::Nil();
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const Endpoint& endpoint,
                                                             absl::Duration connect_timeout,
                                                             absl::Duration io_timeout) {
  redisContext* ctx =
      redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, absl::ToTimeval(connect_timeout));
  if (ctx == nullptr) return absl::ResourceExhaustedError("redis: cannot allocate a connection");
  std::unique_ptr<Connection> conn(new Connection(ctx));
  const std::string where = absl::StrCat(endpoint.host, ":", endpoint.port);
  if (ctx->err != 0) {
    // Refused, unreachable or timed out: all mean "Redis is not there right now".
    return absl::UnavailableError(absl::StrCat("redis: connect to ", where, ": ", ctx->errstr));
  }
  if (redisSetTimeout(ctx, absl::ToTimeval(io_timeout)) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat("redis: set timeout on ", where, ": ", ctx->errstr));
  }
  // Lets the kernel notice a peer that vanished without closing the socket.
  redisEnableKeepAlive(ctx);

  if (!endpoint.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    SB_RETURN_IF_ERROR(conn->Append(auth));
    SB_ASSIGN_OR_RETURN(Reply reply, conn->Read());
    if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  }
  if (endpoint.db != 0) {
    SB_RETURN_IF_ERROR(conn->Append({"SELECT", std::to_string(endpoint.db)}));
    SB_ASSIGN_OR_RETURN(Reply reply, conn->Read());
    if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  }
  return conn;
}

Connection::~Connection() { redisFree(ctx_); }

bool Connection::IdleAndAlive() const {
  if (broken()) return false;
  pollfd pfd{};
  pfd.fd = ctx_->fd;
  pfd.events = POLLIN;
  int n = ::poll(&pfd, 1, 0);
  return n == 0;
}

absl::Status Connection::Append(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), argvlen.data()) !=
      REDIS_OK) {
    broken_ = true;
    return TransportError(errno);
  }
  return absl::OkStatus();
}

absl::Status Connection::Flush() {
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) {
      int saved = errno;
      broken_ = true;
      return TransportError(saved);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Reply> Connection::Read() {
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
    int saved = errno;
    broken_ = true;
    return TransportError(saved);
  }
  Reply reply = ToReply(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

absl::Status Connection::TransportError(int saved_errno) const {
  const char* detail = ctx_->errstr[0] != '\0' ? ctx_->errstr : "unknown error";
  if (ctx_->err == REDIS_ERR_IO &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT)) {
    return absl::DeadlineExceededError(absl::StrCat("redis: timed out: ", detail));
  }
  if (ctx_->err == REDIS_ERR_EOF) {
    return absl::UnavailableError("redis: server closed the connection");
  }
  return absl::UnavailableError(absl::StrCat("redis: ", detail));
}

}  // namespace sb::redis::internal
