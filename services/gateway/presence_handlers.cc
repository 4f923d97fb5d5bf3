#include "services/gateway/presence_handlers.h"

#include <deque>
#include <set>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sb/common/log.h"
#include "sb/rpc/client.h"

namespace sb::gateway {

namespace json = boost::json;
namespace sio = sb::socketio::server;
namespace pb = ::switchboard::presence::v1;
using Stub = pb::PresenceService::Stub::async_interface;
using google::protobuf::util::TimeUtil;

namespace {

void Reply(const sio::Ack& ack, json::value body) {
  if (ack) ack(json::array{std::move(body)});
}
json::object Err(std::string_view code, std::string_view message) {
  return json::object{{"ok", false}, {"error", json::object{{"code", code}, {"message", message}}}};
}
json::object Ok(json::value data) { return json::object{{"ok", true}, {"data", std::move(data)}}; }

const char* StatusName(pb::Status s) {
  switch (s) {
    case pb::STATUS_ONLINE:
      return "online";
    case pb::STATUS_AWAY:
      return "away";
    default:
      return "offline";
  }
}

}  // namespace

json::object PresenceStatusJson(const pb::UserPresence& p) {
  json::value last_seen = nullptr;
  if (p.has_last_seen()) {
    // The same form as the presence events' lastSeen (always milliseconds).
    last_seen = absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ",
                                 absl::FromUnixMillis(TimeUtil::TimestampToMilliseconds(p.last_seen())),
                                 absl::UTCTimeZone());
  }
  return json::object{{"userId", p.user_id()},
                      {"isOnline", p.is_online()},
                      {"status", StatusName(p.status())},
                      {"lastSeen", std::move(last_seen)},
                      {"activity", p.activity()}};
}

ClientError PresenceErrorFor(const grpc::Status& status) {
  ClientError e = ClientErrorFor(status);
  if (e.code == "unavailable") e.message = "presence service unavailable, try again";
  return e;
}

std::optional<std::vector<std::string>> UserIdsArg(const sio::Message& msg, size_t max) {
  if (msg.args.empty()) return std::nullopt;
  const json::value* ids = &msg.args[0];
  if (const auto* o = ids->if_object()) ids = o->if_contains("userIds");
  if (!ids || !ids->is_array() || ids->as_array().size() > max) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : ids->as_array()) {
    if (!v.is_string()) return std::nullopt;
    out.emplace_back(v.as_string());
  }
  return out;
}

// ---- sessions ---------------------------------------------------------------------------------

// Register and unregister calls of one socket run one after the other (gRPC does not order
// concurrent calls: an unregister overtaking its register would leave a ghost session until its
// lease expires).
struct SessionQueue {
  struct Op {
    bool add = true;
    ClientSession session;
  };
  std::mutex mu;
  std::unordered_map<std::string, std::deque<Op>> queues;  // socket id -> ops; the front is in flight
};


PresenceLeases::PresenceLeases(Realtime& realtime, PresenceClient& presence, std::string gateway_id,
                               absl::Duration interval)
    : realtime_(realtime),
      presence_(presence),
      gateway_id_(std::move(gateway_id)),
      interval_(interval),
      queue_(std::make_shared<SessionQueue>()) {}

PresenceLeases::~PresenceLeases() { Stop(); }

void PresenceLeases::Install() {
  realtime_.OnSessionOpened([this](const ClientSession& s) { Register(s); });
  realtime_.OnSessionClosed([this](const ClientSession& s) { Unregister(s); });
}

void PresenceLeases::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(interval_));
      if (stopping_) break;
      lock.unlock();
      RenewNow();
      lock.lock();
    }
  });
}

void PresenceLeases::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {

void Send(PresenceClient& presence, std::shared_ptr<SessionQueue> queue, const std::string& gateway_id,
          const SessionQueue::Op& op);

// The front op finished: start the next one of the socket, if any.
void Done(PresenceClient& presence, const std::shared_ptr<SessionQueue>& queue, const std::string& gateway_id,
          const std::string& socket_id) {
  std::optional<SessionQueue::Op> next;
  {
    std::lock_guard lock(queue->mu);
    auto it = queue->queues.find(socket_id);
    if (it == queue->queues.end()) return;
    it->second.pop_front();
    if (it->second.empty()) {
      queue->queues.erase(it);
    } else {
      next = it->second.front();
    }
  }
  if (next) Send(presence, queue, gateway_id, *next);
}

void Send(PresenceClient& presence, std::shared_ptr<SessionQueue> queue, const std::string& gateway_id,
          const SessionQueue::Op& op) {
  const std::string sid = op.session.socket_id;
  if (op.add) {
    pb::RegisterSessionRequest req;
    auto* s = req.mutable_session();
    s->set_user_id(op.session.user);
    s->set_session_id(sid);
    s->set_gateway_id(gateway_id);
    s->set_device(op.session.device);
    s->set_platform(op.session.platform);
    presence.Call<pb::RegisterSessionRequest, pb::RegisterSessionResponse>(
        &Stub::RegisterSession, std::move(req),
        [&presence, queue, gateway_id, sid, user = op.session.user](const grpc::Status& status,
                                                                    pb::RegisterSessionResponse&) {
          // Not fatal: the next renewal reports the session unknown and it is registered again.
          if (!status.ok()) {
            sb::log::Warn("presence: session not registered",
                          {{"sid", sid}, {"user", user}, {"error", status.error_message()}});
          }
          Done(presence, queue, gateway_id, sid);
        });
    return;
  }
  pb::UnregisterSessionRequest req;
  req.set_user_id(op.session.user);
  req.set_session_id(sid);
  req.set_gateway_id(gateway_id);  // a socket recovered on another instance keeps its session there
  presence.Call<pb::UnregisterSessionRequest, pb::UnregisterSessionResponse>(
      &Stub::UnregisterSession, std::move(req),
      [&presence, queue, gateway_id, sid](const grpc::Status& status, pb::UnregisterSessionResponse&) {
        // Not fatal: the lease expires the session (and the user goes offline) within the lease.
        if (!status.ok()) {
          sb::log::Warn("presence: session not unregistered", {{"sid", sid}, {"error", status.error_message()}});
        }
        Done(presence, queue, gateway_id, sid);
      });
}

void Enqueue(PresenceClient& presence, const std::shared_ptr<SessionQueue>& queue, const std::string& gateway_id,
             SessionQueue::Op op) {
  bool start = false;
  {
    std::lock_guard lock(queue->mu);
    auto& q = queue->queues[op.session.socket_id];
    q.push_back(op);
    start = q.size() == 1;
  }
  if (start) Send(presence, queue, gateway_id, op);
}

}  // namespace

void PresenceLeases::Register(const ClientSession& session) {
  Enqueue(presence_, queue_, gateway_id_, {true, session});
}

void PresenceLeases::Unregister(const ClientSession& session) {
  Enqueue(presence_, queue_, gateway_id_, {false, session});
}

bool PresenceLeases::RenewNow() {
  if (renewing_.exchange(true)) return false;
  std::vector<ClientSession> sessions = realtime_.LocalSessions();
  if (sessions.empty()) {
    renewing_.store(false);
    return true;
  }
  pb::RenewSessionsRequest req;
  req.set_gateway_id(gateway_id_);
  for (const auto& s : sessions) {
    auto* out = req.add_sessions();
    out->set_user_id(s.user);
    out->set_session_id(s.socket_id);
    out->set_gateway_id(gateway_id_);
    out->set_device(s.device);
    out->set_platform(s.platform);
    if (s.last_active_ms > 0) *out->mutable_last_active() = TimeUtil::MillisecondsToTimestamp(s.last_active_ms);
  }
  presence_.Call<pb::RenewSessionsRequest, pb::RenewSessionsResponse>(
      &Stub::RenewSessions, std::move(req), [this](const grpc::Status& status, pb::RenewSessionsResponse& resp) {
        if (!status.ok()) {
          sb::log::Warn("presence: lease renewal failed", {{"error", status.error_message()}});
        } else if (resp.unknown_session_ids_size() > 0) {
          // Still local? (A socket that closed meanwhile must not come back.)
          const std::set<std::string> unknown(resp.unknown_session_ids().begin(), resp.unknown_session_ids().end());
          int64_t again = 0;
          for (const auto& s : realtime_.LocalSessions()) {
            if (!unknown.count(s.socket_id)) continue;
            Register(s);
            ++again;
          }
          sb::log::Info("presence: re-registering sessions presence did not know", {{"sessions", again}});
        }
        renewing_.store(false);
      });
  return true;
}

// ---- events -------------------------------------------------------------------------------------

namespace {

void SetStatus(PresenceClient& presence, const std::string& user, const std::string& sid, pb::Status status,
               const std::string& activity, sio::Ack ack) {
  pb::SetStatusRequest req;
  req.set_user_id(user);
  req.set_session_id(sid);
  req.set_status(status);
  req.set_activity(activity);
  presence.Call<pb::SetStatusRequest, pb::SetStatusResponse>(
      &Stub::SetStatus, std::move(req), [ack = std::move(ack)](const grpc::Status& s, pb::SetStatusResponse& resp) {
        if (!s.ok()) {
          ClientError e = PresenceErrorFor(s);
          return Reply(ack, Err(e.code, e.message));
        }
        Reply(ack, Ok(PresenceStatusJson(resp.presence())));
      });
}

// {activity} of a status event; nullopt when present but not a string.
std::optional<std::string> ActivityArg(const sio::Message& msg) {
  if (msg.args.empty() || !msg.args[0].is_object()) return std::string();
  const auto* a = msg.args[0].as_object().if_contains("activity");
  if (!a || a->is_null()) return std::string();
  if (!a->is_string()) return std::nullopt;
  return std::string(a->as_string());
}

}  // namespace

void InstallPresenceHandlers(Realtime& realtime, PresenceClient& presence, size_t max_watched) {
  const std::pair<const char*, pb::Status> status_events[] = {
      {"presence:online", pb::STATUS_ONLINE}, {"presence:away", pb::STATUS_AWAY}, {"presence:offline", pb::STATUS_OFFLINE}};
  for (const auto& [event, status] : status_events) {
    realtime.SetServiceHandler(event, [&presence, status = status, name = std::string(event)](
                                          const std::shared_ptr<sio::Socket>& socket, const std::string& user,
                                          sio::Message& msg, sio::Ack ack) {
      auto activity = ActivityArg(msg);
      if (!activity) return Reply(ack, Err("invalid_argument", name + ": activity must be a string"));
      SetStatus(presence, user, socket->id(), status, *activity, std::move(ack));
    });
  }

  realtime.SetServiceHandler("presence:update", [&presence](const std::shared_ptr<sio::Socket>& socket,
                                                            const std::string& user, sio::Message& msg, sio::Ack ack) {
    auto activity = ActivityArg(msg);
    if (!activity) return Reply(ack, Err("invalid_argument", "presence:update needs {activity: string, status?}"));
    pb::Status status = pb::STATUS_UNSPECIFIED;
    if (!msg.args.empty() && msg.args[0].is_object()) {
      if (const auto* s = msg.args[0].as_object().if_contains("status"); s && !s->is_null()) {
        const std::string name = s->is_string() ? std::string(s->as_string()) : "";
        if (name == "online") {
          status = pb::STATUS_ONLINE;
        } else if (name == "away") {
          status = pb::STATUS_AWAY;
        } else if (name == "offline") {
          status = pb::STATUS_OFFLINE;
        } else {
          return Reply(ack, Err("invalid_argument", "status: one of online, away, offline"));
        }
      }
    }
    SetStatus(presence, user, socket->id(), status, *activity, std::move(ack));
  });

  realtime.SetServiceHandler("presence:subscribe", [&realtime, &presence, max_watched](
                                                       const std::shared_ptr<sio::Socket>& socket,
                                                       const std::string& user, sio::Message& msg, sio::Ack ack) {
    auto ids = UserIdsArg(msg, max_watched);
    if (!ids) {
      return Reply(ack, Err("invalid_argument",
                            absl::StrCat("presence:subscribe needs {userIds: [user ids]} (at most ", max_watched, ")")));
    }
    if (ids->empty()) return Reply(ack, Ok(json::object{{"users", json::array{}}, {"denied", json::array{}}}));
    pb::WatchRequest req;
    req.set_viewer_id(user);
    for (auto& id : *ids) req.add_user_ids(std::move(id));
    presence.Call<pb::WatchRequest, pb::WatchResponse>(
        &Stub::Watch, std::move(req), [&realtime, socket, ack](const grpc::Status& status, pb::WatchResponse& resp) {
          if (!status.ok()) {
            ClientError e = PresenceErrorFor(status);
            return Reply(ack, Err(e.code, e.message));
          }
          json::array users, denied;
          std::vector<std::string> allowed;
          for (const auto& p : resp.allowed()) {
            allowed.push_back(p.user_id());
            users.push_back(PresenceStatusJson(p));
          }
          for (const auto& id : resp.denied_user_ids()) denied.push_back(json::string(id));
          realtime.WatchPresence(socket, std::move(allowed), [ack, users, denied](absl::Status watched) {
            if (!watched.ok()) {
              return Reply(ack, Err(watched.code() == absl::StatusCode::kResourceExhausted ? "limit_exceeded"
                                                                                          : "unavailable",
                                    std::string(watched.message())));
            }
            Reply(ack, Ok(json::object{{"users", users}, {"denied", denied}}));
          });
        });
  });

  realtime.SetServiceHandler("presence:unsubscribe", [&realtime](const std::shared_ptr<sio::Socket>& socket,
                                                                 const std::string&, sio::Message& msg, sio::Ack ack) {
    auto ids = UserIdsArg(msg, 1000);
    if (!ids) return Reply(ack, Err("invalid_argument", "presence:unsubscribe needs {userIds: [user ids]}"));
    json::array echoed;
    for (const auto& id : *ids) echoed.push_back(json::string(id));
    realtime.UnwatchPresence(socket, std::move(*ids));
    Reply(ack, Ok(json::object{{"userIds", std::move(echoed)}}));
  });
}

}  // namespace sb::gateway
