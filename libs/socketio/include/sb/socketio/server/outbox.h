// Per-session queue of outgoing Engine.IO packets with a byte bound, shared by both transports:
// long-polling drains it into one response payload, WebSocket into frames. The bound protects the
// process from slow consumers: when a push would exceed it, the caller disconnects the client
// instead of letting memory grow without limit.
#pragma once

#include <cstddef>
#include <vector>
#include <string>

#include "sb/socketio/engineio.h"

namespace sb::socketio::server {

// Not thread-safe: owned by one session, used on its strand.
class Outbox {
 public:
  explicit Outbox(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Queues `packet`. Returns false (and queues nothing) when the queued bytes would exceed the
  // bound; an empty outbox always accepts one packet, however large, so that a single big message
  // within maxPayload can still be delivered.
  bool Push(eio::Packet packet);

  bool empty() const { return packets_.empty(); }
  size_t size() const { return packets_.size(); }
  size_t bytes() const { return bytes_; }

  // Removes every queued packet and returns them as one long-polling payload ("\x1e"-joined,
  // binary as "b<base64>"). Empty string when nothing is queued.
  std::string TakePollingPayload();

  // Removes and returns the oldest packet. Precondition: !empty().
  eio::Packet Pop();

  void Clear();

 private:
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::vector<eio::Packet> packets_;  // allocates nothing while empty (idle WebSocket sessions)
};

}  // namespace sb::socketio::server
