// Internal: one synchronous hiredis connection. Not part of the public API (hiredis stays private).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/redis/reply.h"
#include "sb/redis/url.h"

namespace sb::redis::internal {

// Deep-copies a hiredis reply into our value type.
Reply ToReply(const redisReply* reply);

class Connection {
 public:
  // Connects, sets the socket read/write timeout, AUTHs and SELECTs as the endpoint says.
  // Unavailable when Redis cannot be reached.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const Endpoint& endpoint,
                                                          absl::Duration connect_timeout,
                                                          absl::Duration io_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  redisContext* context() { return ctx_; }
  int fd() const { return ctx_->fd; }

  // True once any transport error happened; the connection must then be discarded.
  bool broken() const { return broken_ || ctx_->err != 0; }

  // For an idle pooled connection: nothing may be readable on it, so readability (EOF from a
  // server that closed it, or stray bytes) means it is unusable.
  bool IdleAndAlive() const;

  // Queues a command in the output buffer (nothing is sent until Flush or Read).
  absl::Status Append(const std::vector<std::string>& args);
  // Writes the whole output buffer (blocking, bounded by the socket timeout).
  absl::Status Flush();
  // Flushes, then blocks (bounded by the socket timeout) for the next reply.
  absl::StatusOr<Reply> Read();

  // The Status for the context's current transport error; `saved_errno` as right after the call.
  absl::Status TransportError(int saved_errno) const;

 private:
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}
  redisContext* ctx_;
  bool broken_ = false;
};

}  // namespace sb::redis::internal
