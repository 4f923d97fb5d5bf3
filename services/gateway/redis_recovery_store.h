// RedisRecoveryStore: Socket.IO connection state recovery shared by every gateway instance.
//
// A socket that drops unexpectedly is saved as  sb:rec:{nsp}:{pid} = JSON {sid, user, rooms, data}
// with a TTL of the recovery window. Only bus events carry offsets: user and room events are
// emitted with EmitWithOffset(stream id), and every stream id comes from one sequence shared by
// all streams (sb/bus/publisher.h, "Offsets"), so the client's last offset is one position that
// splits its user's stream sb:s:u:{user} and every room stream sb:s:r:{room} exactly. Restore
// consumes the saved session with GETDEL (atomic: of two instances racing for one pid only one
// gets it), then reads, in one pipelined ReadStreams, the user's stream and the stream of each
// room of the saved session (rooms without a stream have nothing to replay) after the offset,
// merged by stream id; those events are replayed in that order, each to the room it was sent to
// (the user room for user events). Before the read, options.vet_session may drop rooms the user was
// taken out of while away (e.g. removed from a conversation): their gap is not replayed. Not recovered (the client sees recovered=false and resyncs)
// when the offset has fallen out of any of those stream windows (trimmed, or an offset this Redis
// never issued), or when more than max_replay events were missed.
//
// Single Redis: sessions, streams and the id sequence live on one Redis primary (see publisher.h).
// Room streams must outlive the recovery window (PublisherOptions::room_stream_ttl > window).
// Known imprecision: a room joined after the client's last offset may replay room events sent
// between that offset and the join (the store does not know when each room was joined); events
// are never lost or duplicated.
//
// Restore looks a second time, restore_retry_delay later, when the session is not there yet (its
// Save may still be queued). Shutdown calls WaitForPendingSaves before stopping the pool.
//
// Append returns nullopt (local emits carry no offset and are not replayed). Save and Restore do
// their Redis I/O on the given BlockingPool, never on the caller's (strand) thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
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
  // Save runs on the pool, a little after the disconnect: a client reconnecting at once may look
  // before the session is written. A Restore that finds nothing looks once more after this delay
  // (on the pool, never on a strand). Zero: no second look.
  std::chrono::milliseconds restore_retry_delay{150};
  // Given each consumed session before any stream is read: it removes from state.rooms the rooms
  // `user` may no longer be in, so their missed events are never read or replayed, may note what
  // it decided in state.data (the recovered socket's data), and calls `done` with the state exactly
  // once, from any thread, in bounded time; it must not block. Null: every saved room is kept.
  using VetDone = std::function<void(socketio::server::SessionState state)>;
  std::function<void(const std::string& user, socketio::server::SessionState state, VetDone done)> vet_session;
};

class RedisRecoveryStore : public socketio::server::RecoveryStore {
 public:
  RedisRecoveryStore(redis::Client& redis, sb::BlockingPool& pool, RedisRecoveryOptions options);

  std::optional<std::string> Append(socketio::server::StoredPacket packet) override;
  // Saved only when state.data is an object with a string "user" (authenticated sockets).
  void Save(socketio::server::SessionState state) override;
  void Restore(const std::string& nsp, const std::string& pid, const std::string& offset,
               std::function<void(std::optional<socketio::server::RecoveredSession>)> done) override;

  // The blocking parts, exposed for tests and reuse. RestoreNow waits for vet_session.
  absl::Status SaveNow(const socketio::server::SessionState& state);
  std::optional<socketio::server::RecoveredSession> RestoreNow(const std::string& nsp, const std::string& pid,
                                                               const std::string& offset);

  // Saves submitted to the pool and not finished yet.
  int64_t pending_saves() const;
  // Blocks until no save is pending or `deadline`; true when none is pending. For shutdown, before
  // the pool stops.
  bool WaitForPendingSaves(absl::Time deadline);

  static std::string Key(const std::string& nsp, const std::string& pid);  // "sb:rec:{nsp}:{pid}"

  uint64_t saved() const { return saved_.load(); }
  uint64_t restored() const { return restored_.load(); }
  uint64_t not_recovered() const { return not_recovered_.load(); }

 private:
  struct Consumed {
    std::string user;
    socketio::server::SessionState state;
  };
  // GETDEL of the saved session (looked for twice, see restore_retry_delay) and its parsing.
  std::optional<Consumed> ConsumeSession(const std::string& nsp, const std::string& pid);
  // The events `user` missed after `offset` in its user stream and the streams of state.rooms.
  std::optional<socketio::server::RecoveredSession> ReadMissed(const std::string& user,
                                                               socketio::server::SessionState state,
                                                               const std::string& offset);
  std::nullopt_t NotRecovered(const std::string& pid, std::string_view why);

  redis::Client& redis_;
  sb::BlockingPool& pool_;
  RedisRecoveryOptions options_;
  std::atomic<uint64_t> saved_{0}, restored_{0}, not_recovered_{0};
  mutable std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  int64_t pending_saves_ = 0;  // guarded by pending_mu_
};

}  // namespace sb::gateway
