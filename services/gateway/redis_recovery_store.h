// RedisRecoveryStore: Socket.IO connection state recovery shared by every gateway instance.
//
// A socket that drops unexpectedly is saved as  sb:rec:{nsp}:{pid} = JSON {sid, user, rooms, data}
// with a TTL of the recovery window. Only bus events carry offsets: they are emitted with
// EmitWithOffset(stream id), so the client's last offset is a position in its user's stream
// sb:s:u:{user}. Restore consumes the saved session with GETDEL (atomic: of two instances racing
// for one pid only one gets it), then reads the user's stream after the offset; the events there
// are replayed to the client. If the offset has fallen out of the stream window (trimmed or the
// stream expired) the session is not recovered (the client sees recovered=false and resyncs).
//
// Append returns nullopt (local emits carry no offset and are not replayed). Save and Restore do
// their Redis I/O on the given BlockingPool, never on the caller's (strand) thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "sb/common/blocking_pool.h"
#include "sb/redis/client.h"
#include "sb/socketio/server/recovery.h"

namespace sb::gateway {

struct RedisRecoveryOptions {
  std::chrono::milliseconds window{120'000};  // TTL of saved sessions
  int max_replay = 1000;                       // most events replayed to one socket
  // The room a user's sockets join ("user:" + id); missed events are recorded as sent to it.
  std::function<std::string(const std::string& user)> user_room;
  // Event names that are internal (never replayed), e.g. "sb:control:".
  std::string internal_event_prefix = "sb:";
};

class RedisRecoveryStore : public socketio::server::RecoveryStore {
 public:
  RedisRecoveryStore(redis::Client& redis, sb::BlockingPool& pool, RedisRecoveryOptions options);

  std::optional<std::string> Append(socketio::server::StoredPacket packet) override;
  // Saved only when state.data is an object with a string "user" (authenticated sockets).
  void Save(socketio::server::SessionState state) override;
  void Restore(const std::string& nsp, const std::string& pid, const std::string& offset,
               std::function<void(std::optional<socketio::server::RecoveredSession>)> done) override;

  // The blocking parts, exposed for tests and reuse.
  absl::Status SaveNow(const socketio::server::SessionState& state);
  std::optional<socketio::server::RecoveredSession> RestoreNow(const std::string& nsp, const std::string& pid,
                                                               const std::string& offset);

  static std::string Key(const std::string& nsp, const std::string& pid);  // "sb:rec:{nsp}:{pid}"

  uint64_t saved() const { return saved_.load(); }
  uint64_t restored() const { return restored_.load(); }
  uint64_t not_recovered() const { return not_recovered_.load(); }

 private:
  redis::Client& redis_;
  sb::BlockingPool& pool_;
  RedisRecoveryOptions options_;
  std::atomic<uint64_t> saved_{0}, restored_{0}, not_recovered_{0};
};

}  // namespace sb::gateway
