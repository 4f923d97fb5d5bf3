// Socket.IO connection state recovery (socket.io >= 4.6 "connectionStateRecovery").
//
// While recovery is enabled, every EVENT the server emits without an ack (to a socket, a room or a
// namespace) carries an offset appended as its LAST argument; socket.io-client remembers the last
// one. After an unexpected disconnect ("transport close", "transport error", "ping timeout",
// "forced close", "server shutting down") the server saves the socket's state under its private id
// (pid). A client reconnecting within maxDisconnectionDuration sends {pid, offset} in its CONNECT
// auth; if the store still has both, the socket gets its old id, rooms and data back,
// recovered() is true, and every packet emitted after that offset to its rooms is replayed.
//
// The store is an interface so the gateway can keep it in Redis (offsets are then Redis stream ids).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace sb::socketio::server {

// One recoverable packet as it was broadcast. `args` excludes the event name and the offset (the
// server appends `offset` as the last argument when it sends or replays the packet); `buffers`
// are the binary attachments its placeholders reference.
struct StoredPacket {
  std::string offset;
  std::string nsp;
  std::string event;
  boost::json::array args;
  std::vector<std::string> buffers;
  std::vector<std::string> rooms;   // empty: the whole namespace
  std::vector<std::string> except;  // rooms excluded
  std::chrono::steady_clock::time_point emitted_at;

  // True when a socket in `socket_rooms` (which includes its own id) received this packet.
  bool Matches(const std::vector<std::string>& socket_rooms) const;
};

// What is saved about a socket after an unexpected disconnect.
struct SessionState {
  std::string pid;                   // private id the client presents
  std::string sid;                   // the socket id it gets back
  std::string nsp;
  std::vector<std::string> rooms;    // includes sid
  boost::json::value data;           // Socket::data()
};

struct RecoveredSession {
  SessionState state;
  std::vector<StoredPacket> missed;  // in emission order
};

// Thread-safe. Implementations must not block for long: Restore's callback may run later.
class RecoveryStore {
 public:
  virtual ~RecoveryStore() = default;
  // Records a packet about to be emitted and returns its offset (packet.offset when the caller set
  // one, else a new one), or nullopt when this store does not record server-side emits (the
  // emitter then sends the packet without an offset).
  virtual std::optional<std::string> Append(StoredPacket packet) = 0;
  virtual void Save(SessionState state) = 0;
  // Looks up and consumes the session `pid` of namespace `nsp`; calls `done` (on any thread) with
  // the state and the packets after `offset`, or nullopt if the session expired/is unknown or the
  // offset is no longer held.
  virtual void Restore(const std::string& nsp, const std::string& pid, const std::string& offset,
                       std::function<void(std::optional<RecoveredSession>)> done) = 0;
};

// In-process store: packets and sessions are kept for max_disconnection_duration, and at most
// `max_packets` packets are held (the oldest are dropped first, so memory stays bounded under a
// high emit rate). A Restore whose offset was dropped finds nothing (nullopt: not recovered).
class InMemoryRecoveryStore : public RecoveryStore {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kDefaultMaxPackets = 100'000;
  explicit InMemoryRecoveryStore(std::chrono::milliseconds max_disconnection_duration,
                                 std::function<Clock::time_point()> now = [] { return Clock::now(); },
                                 size_t max_packets = kDefaultMaxPackets);

  std::optional<std::string> Append(StoredPacket packet) override;
  void Save(SessionState state) override;
  void Restore(const std::string& nsp, const std::string& pid, const std::string& offset,
               std::function<void(std::optional<RecoveredSession>)> done) override;

  size_t packet_count() const;
  size_t session_count() const;

 private:
  void ExpireLocked(Clock::time_point now);

  std::chrono::milliseconds max_duration_;
  size_t max_packets_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;
  uint64_t next_offset_ = 1;
  std::string offset_prefix_;
  std::deque<StoredPacket> packets_;
  struct Saved {
    SessionState state;
    Clock::time_point disconnected_at;
  };
  std::unordered_map<std::string, Saved> sessions_;  // key: nsp + '\n' + pid
};

}  // namespace sb::socketio::server
