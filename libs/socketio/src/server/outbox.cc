#include "sb/socketio/server/outbox.h"

#include <vector>

namespace sb::socketio::server {
namespace {
// Rough per-packet overhead (type digit, separator, queue slot) so that floods of empty packets
// are bounded too.
constexpr size_t kPacketOverhead = 16;
}  // namespace

bool Outbox::Push(eio::Packet packet) {
  const size_t cost = packet.data.size() + kPacketOverhead;
  if (!packets_.empty() && bytes_ + cost > max_bytes_) return false;
  bytes_ += cost;
  packets_.push_back(std::move(packet));
  return true;
}

std::string Outbox::TakePollingPayload() {
  if (packets_.empty()) return {};
  std::string payload = eio::EncodePayload(packets_);
  Clear();
  return payload;
}

eio::Packet Outbox::Pop() {
  eio::Packet packet = std::move(packets_.front());
  packets_.erase(packets_.begin());  // only used to drain a short queue at an upgrade
  const size_t cost = packet.data.size() + kPacketOverhead;
  bytes_ = bytes_ >= cost ? bytes_ - cost : 0;
  return packet;
}

void Outbox::Clear() {
  packets_.clear();
  packets_.shrink_to_fit();
  bytes_ = 0;
}

}  // namespace sb::socketio::server
