#include "services/gateway/redis_recovery_store.h"

#include <algorithm>
#include <future>
#include <thread>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/bus/publisher.h"
#include "sb/common/log.h"

namespace sb::gateway {

namespace json = boost::json;
using socketio::server::RecoveredSession;
using socketio::server::SessionState;
using socketio::server::StoredPacket;

namespace {
// ReadStreams takes at most 1,000 keys; a socket holds far fewer rooms (rooms and watches are capped).
constexpr size_t kMaxStreamsRead = 1000;
}  // namespace

RedisRecoveryStore::RedisRecoveryStore(redis::Client& redis, sb::BlockingPool& pool, RedisRecoveryOptions options)
    : redis_(redis), pool_(pool), options_(std::move(options)) {
  if (!options_.user_room) options_.user_room = [](const std::string& user) { return "user:" + user; };
}

std::string RedisRecoveryStore::Key(const std::string& nsp, const std::string& pid) {
  return absl::StrCat("sb:rec:", nsp, ":", pid);
}

std::optional<std::string> RedisRecoveryStore::Append(StoredPacket) { return std::nullopt; }

void RedisRecoveryStore::Save(SessionState state) {
  const auto* data = state.data.if_object();
  if (data == nullptr || !data->contains("user") || !data->at("user").is_string()) return;
  {
    std::lock_guard lock(pending_mu_);
    ++pending_saves_;
  }
  auto finished = [this] {
    std::lock_guard lock(pending_mu_);
    if (--pending_saves_ == 0) pending_cv_.notify_all();
  };
  absl::Status submitted = pool_.Submit([this, finished, state = std::move(state)] {
    absl::Status status = SaveNow(state);
    if (!status.ok()) sb::log::Warn("recovery session not saved", {{"pid", state.pid}, {"error", status.ToString()}});
    finished();
  });
  if (!submitted.ok()) {
    sb::log::Warn("recovery session not saved", {{"error", submitted.ToString()}});
    finished();
  }
}

int64_t RedisRecoveryStore::pending_saves() const {
  std::lock_guard lock(pending_mu_);
  return pending_saves_;
}

bool RedisRecoveryStore::WaitForPendingSaves(absl::Time deadline) {
  std::unique_lock lock(pending_mu_);
  return pending_cv_.wait_until(lock, absl::ToChronoTime(deadline), [this] { return pending_saves_ == 0; });
}

absl::Status RedisRecoveryStore::SaveNow(const SessionState& state) {
  json::array rooms;
  for (const auto& room : state.rooms) rooms.emplace_back(room);
  json::object record{{"sid", state.sid},
                      {"user", state.data.at("user")},
                      {"rooms", std::move(rooms)},
                      {"data", state.data}};
  auto reply = redis_.Command({"SET", Key(state.nsp, state.pid), json::serialize(record), "PX",
                               std::to_string(options_.window.count())});
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return redis::ErrorReplyToStatus(reply->str);
  saved_.fetch_add(1);
  return absl::OkStatus();
}

void RedisRecoveryStore::Restore(const std::string& nsp, const std::string& pid, const std::string& offset,
                                 std::function<void(std::optional<RecoveredSession>)> done) {
  auto shared_done = std::make_shared<std::function<void(std::optional<RecoveredSession>)>>(std::move(done));
  absl::Status submitted = pool_.Submit([this, nsp, pid, offset, shared_done] {
    std::optional<Consumed> consumed = ConsumeSession(nsp, pid);
    if (!consumed) return (*shared_done)(std::nullopt);
    if (!options_.vet_session) return (*shared_done)(ReadMissed(consumed->user, std::move(consumed->state), offset));
    // The vetting may wait for other services: the pool thread is not held meanwhile.
    options_.vet_session(consumed->user, std::move(consumed->state),
                         [this, user = consumed->user, pid, offset, shared_done](SessionState state) {
                           auto read = [this, user, offset, shared_done, state = std::move(state)]() mutable {
                             (*shared_done)(ReadMissed(user, std::move(state), offset));
                           };
                           if (absl::Status again = pool_.Submit(read); !again.ok()) {
                             (*shared_done)(NotRecovered(pid, again.ToString()));
                           }
                         });
  });
  if (!submitted.ok()) (*shared_done)(NotRecovered(pid, "blocking pool unavailable: " + submitted.ToString()));
}

std::nullopt_t RedisRecoveryStore::NotRecovered(const std::string& pid, std::string_view why) {
  sb::log::Info("session not recovered", {{"pid", pid}, {"why", why}});
  not_recovered_.fetch_add(1);
  return std::nullopt;
}

std::optional<RecoveredSession> RedisRecoveryStore::RestoreNow(const std::string& nsp, const std::string& pid,
                                                               const std::string& offset) {
  std::optional<Consumed> consumed = ConsumeSession(nsp, pid);
  if (!consumed) return std::nullopt;
  if (options_.vet_session) {
    std::promise<SessionState> vetted;
    options_.vet_session(consumed->user, std::move(consumed->state),
                         [&vetted](SessionState state) { vetted.set_value(std::move(state)); });
    consumed->state = vetted.get_future().get();
  }
  return ReadMissed(consumed->user, std::move(consumed->state), offset);
}

std::optional<RedisRecoveryStore::Consumed> RedisRecoveryStore::ConsumeSession(const std::string& nsp,
                                                                               const std::string& pid) {
  auto reply = redis_.Command({"GETDEL", Key(nsp, pid)});
  if (reply.ok() && reply->is_nil() && options_.restore_retry_delay.count() > 0) {
    // The session may have dropped a moment ago with its Save still queued: look once more.
    std::this_thread::sleep_for(options_.restore_retry_delay);
    reply = redis_.Command({"GETDEL", Key(nsp, pid)});
  }
  if (!reply.ok()) return NotRecovered(pid, reply.status().ToString());
  if (reply->is_nil()) return NotRecovered(pid, "unknown or expired session");
  if (!reply->is_string()) return NotRecovered(pid, "unexpected reply");

  boost::system::error_code ec;
  json::value record = json::parse(reply->str, ec);
  if (ec || !record.is_object()) return NotRecovered(pid, "corrupt session record");
  const auto& obj = record.as_object();
  const auto* sid = obj.if_contains("sid");
  const auto* user = obj.if_contains("user");
  const auto* rooms = obj.if_contains("rooms");
  if (!sid || !sid->is_string() || !user || !user->is_string() || !rooms || !rooms->is_array()) {
    return NotRecovered(pid, "corrupt session record");
  }
  Consumed consumed;
  consumed.user = std::string(user->as_string());
  consumed.state.pid = pid;
  consumed.state.sid = std::string(sid->as_string());
  consumed.state.nsp = nsp;
  for (const auto& room : rooms->as_array()) {
    if (room.is_string()) consumed.state.rooms.emplace_back(room.as_string());
  }
  if (const auto* data = obj.if_contains("data")) consumed.state.data = *data;
  return consumed;
}

std::optional<RecoveredSession> RedisRecoveryStore::ReadMissed(const std::string& user_id, SessionState state,
                                                               const std::string& offset) {
  RecoveredSession session;
  session.state = std::move(state);
  const std::string& pid = session.state.pid;
  const std::string& nsp = session.state.nsp;
  boost::system::error_code ec;

  // The user's stream and the stream of every room the socket was in, merged by offset (one id
  // sequence for all of them, see sb/bus/publisher.h). One read of max_replay + 1 events tells
  // both what was missed and whether it is too much to replay.
  const std::string user_room = options_.user_room(user_id);
  std::vector<std::string> keys;
  std::vector<std::string> key_rooms;  // the Socket.IO room each key's events went to
  if (auto key = sb::bus::UserStreamKey(user_id); key.ok()) {
    keys.push_back(*key);
    key_rooms.push_back(user_room);
  }
  for (const auto& room : session.state.rooms) {
    if (room == session.state.sid || keys.size() >= kMaxStreamsRead) continue;
    auto key = sb::bus::RoomStreamKey(room);
    if (!key.ok()) continue;  // not a name the bus can carry: no room events were sent to it
    keys.push_back(*key);
    key_rooms.push_back(room);
  }
  if (keys.empty()) return NotRecovered(pid, "no stream to replay from");
  auto read = sb::bus::ReadStreams(redis_, keys, offset, std::clamp(options_.max_replay + 1, 1, 10000));
  if (!read.ok()) return NotRecovered(pid, read.status().ToString());
  if (!read->recoverable) return NotRecovered(pid, "offset outside the stream window");
  if (static_cast<int>(read->events.size()) > options_.max_replay) {
    // Replaying only part of what was missed would hide the gap; the client resyncs instead.
    return NotRecovered(pid, "too many missed events");
  }
  for (size_t i = 0; i < read->events.size(); ++i) {
    const auto& event = read->events[i];
    if (std::string_view(event.name()).starts_with(options_.internal_event_prefix)) continue;
    StoredPacket packet;
    packet.offset = event.offset();
    packet.nsp = nsp;
    packet.event = event.name();
    json::value payload = json::parse(event.payload_json(), ec);
    packet.args.push_back(ec ? json::value(json::string(event.payload_json())) : std::move(payload));
    packet.rooms = {key_rooms[read->sources[i]]};
    session.missed.push_back(std::move(packet));
  }
  restored_.fetch_add(1);
  return session;
}

}  // namespace sb::gateway
