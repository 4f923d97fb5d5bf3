// Per-connection Socket.IO decoder: turns the stream of Engine.IO messages of one client into
// complete Socket.IO packets, joining BINARY_EVENT / BINARY_ACK headers with their attachments.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sb/socketio/engineio.h"
#include "sb/socketio/socketio.h"

namespace sb::socketio::sio {

// Not thread-safe: one per connection, fed in arrival order.
//
// Each Add* call returns the completed packet, nullopt while binary attachments are still
// expected, or an error. Errors: a malformed header (see DecodeHeader); a text message while
// attachments are pending, or a binary message when none is expected (FailedPrecondition); the
// attachments of one packet exceeding options.max_attachment_bytes (ResourceExhausted). After an
// error the partial packet is dropped and the reassembler is empty again, but the stream is no
// longer trustworthy: the server should close the connection, as the reference server does.
class Reassembler {
 public:
  explicit Reassembler(DecodeOptions options = {}) : options_(options) {}

  absl::StatusOr<std::optional<Packet>> AddText(std::string_view text);
  absl::StatusOr<std::optional<Packet>> AddBinary(std::string bytes);
  // Dispatches on message.binary. Only MESSAGE packets carry Socket.IO data: other types are a
  // FailedPrecondition error that leaves the state unchanged (engine.io ping/pong may legally
  // arrive between attachments; the caller handles them before calling this).
  absl::StatusOr<std::optional<Packet>> Add(eio::Packet message);

  // True while a binary packet waits for more attachments.
  bool awaiting_binary() const { return pending_.has_value(); }
  // Attachments still expected for the pending packet (0 when none is pending).
  size_t missing_attachments() const;
  void Reset();

 private:
  DecodeOptions options_;
  std::optional<DecodedHeader> pending_;
  size_t pending_bytes_ = 0;
};

}  // namespace sb::socketio::sio
