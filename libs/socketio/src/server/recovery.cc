#include "sb/socketio/server/recovery.h"

#include <algorithm>

#include "sb/socketio/server/session_registry.h"

namespace sb::socketio::server {
namespace {
bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
std::string Key(const std::string& nsp, const std::string& pid) { return nsp + '\n' + pid; }
}  // namespace

bool StoredPacket::Matches(const std::vector<std::string>& socket_rooms) const {
  for (const auto& r : except) {
    if (Contains(socket_rooms, r)) return false;
  }
  if (rooms.empty()) return true;
  for (const auto& r : rooms) {
    if (Contains(socket_rooms, r)) return true;
  }
  return false;
}

InMemoryRecoveryStore::InMemoryRecoveryStore(std::chrono::milliseconds max_disconnection_duration,
                                             std::function<Clock::time_point()> now, size_t max_packets)
    : max_duration_(max_disconnection_duration),
      max_packets_(std::max<size_t>(max_packets, 1)),
      now_(std::move(now)),
      // A per-process prefix: offsets from an earlier process never match this one's.
      offset_prefix_(GenerateId().substr(0, 8) + "-") {}

void InMemoryRecoveryStore::ExpireLocked(Clock::time_point now) {
  while (!packets_.empty() && packets_.front().emitted_at + max_duration_ < now) packets_.pop_front();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.disconnected_at + max_duration_ < now) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<std::string> InMemoryRecoveryStore::Append(StoredPacket packet) {
  std::lock_guard lock(mu_);
  const auto now = now_();
  if (packet.offset.empty()) packet.offset = offset_prefix_ + std::to_string(next_offset_++);
  packet.emitted_at = now;
  std::string offset = packet.offset;
  if (packets_.empty() || packets_.front().emitted_at + max_duration_ < now) ExpireLocked(now);
  while (packets_.size() >= max_packets_) packets_.pop_front();
  packets_.push_back(std::move(packet));
  return offset;
}

void InMemoryRecoveryStore::Save(SessionState state) {
  std::lock_guard lock(mu_);
  const auto now = now_();
  ExpireLocked(now);
  std::string key = Key(state.nsp, state.pid);
  sessions_[key] = Saved{std::move(state), now};
}

void InMemoryRecoveryStore::Restore(const std::string& nsp, const std::string& pid, const std::string& offset,
                                    std::function<void(std::optional<RecoveredSession>)> done) {
  std::optional<RecoveredSession> result;
  {
    std::lock_guard lock(mu_);
    const auto now = now_();
    ExpireLocked(now);
    auto it = sessions_.find(Key(nsp, pid));
    if (it != sessions_.end()) {
      RecoveredSession recovered{std::move(it->second.state), {}};
      sessions_.erase(it);
      auto pos = std::find_if(packets_.begin(), packets_.end(),
                              [&](const StoredPacket& p) { return p.offset == offset; });
      if (pos != packets_.end()) {
        for (++pos; pos != packets_.end(); ++pos) {
          if (pos->nsp == nsp && pos->Matches(recovered.state.rooms)) recovered.missed.push_back(*pos);
        }
        result = std::move(recovered);
      }
    }
  }
  done(std::move(result));
}

size_t InMemoryRecoveryStore::packet_count() const {
  std::lock_guard lock(mu_);
  return packets_.size();
}

size_t InMemoryRecoveryStore::session_count() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace sb::socketio::server
