#include "services/presence/redis_state.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sb/common/status.h"

namespace sb::presence {
namespace {

// Shared by every script. Times are epoch milliseconds; they are stored with %d so that large
// values never turn into floating-point notation.
constexpr char kPrelude[] = R"lua(
local P = 'sb:pr:'
local LEASE, PENDING, ACTIVE, ONLINE, LS, DIRTY = P..'lease', P..'pending', P..'active', P..'online', P..'ls', P..'dirty'
local function ukey(u) return P..'u:'..u end
local function skey(u) return P..'s:'..u end
local function s(n) return string.format('%d', n) end
-- last seen = max(stored, t); marked for the Postgres flush when it moved
local function touch_ls(u, t)
  local cur = tonumber(redis.call('HGET', LS, u) or '0')
  if t > cur then
    redis.call('HSET', LS, u, s(t))
    redis.call('SADD', DIRTY, u)
  end
end
-- The user's last session ended: last seen (unless appearing offline), offline after the debounce
-- if watchers were told online.
local function last_session_gone(u, now, debounce)
  local h = ukey(u)
  redis.call('SREM', ONLINE, u)
  redis.call('ZREM', ACTIVE, u)
  if redis.call('HGET', h, 'inv') ~= '1' then touch_ls(u, now) end
  if redis.call('HGET', h, 'pub') == '1' then redis.call('ZADD', PENDING, now + debounce, u) end
  redis.call('EXPIRE', h, 604800)
end
)lua";

// ARGV: user, session id, info, now, lease until. Returns {sessions, first, went_online}.
constexpr char kRegister[] = R"lua(
local u, sid, info, now, exp = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local h = ukey(u)
redis.call('HSET', skey(u), sid, info)
redis.call('ZADD', LEASE, exp, sid..'\0'..u)
local first = redis.call('SADD', ONLINE, u) == 1
local debouncing = redis.call('ZREM', PENDING, u) == 1
redis.call('PERSIST', h)
if first and not debouncing then
  -- a new online period: status and activity start fresh (the appear-offline setting stays)
  redis.call('HSET', h, 'st', 'online', 'auto', '0', 'since', s(now), 'act', '')
end
if (redis.call('HGET', h, 'st') or 'online') == 'online' then redis.call('ZADD', ACTIVE, 'GT', now, u) end
local went = 0
if redis.call('HGET', h, 'inv') ~= '1' then
  touch_ls(u, now)
  if redis.call('HGET', h, 'pub') ~= '1' then
    redis.call('HSET', h, 'pub', '1')
    went = 1
  end
end
return {redis.call('HLEN', skey(u)), first and 1 or 0, went}
)lua";

// ARGV: user, session id, now, debounce, gateway ('' = any). Returns the remaining sessions.
constexpr char kUnregister[] = R"lua(
local u, sid, now, debounce, gw = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if gw ~= '' then
  local info = redis.call('HGET', skey(u), sid)
  if info and string.sub(info, 1, #gw + 1) ~= gw..'\t' then return redis.call('HLEN', skey(u)) end
end
local removed = redis.call('HDEL', skey(u), sid)
redis.call('ZREM', LEASE, sid..'\0'..u)
local n = redis.call('HLEN', skey(u))
if removed == 1 and n == 0 then last_session_gone(u, now, debounce) end
return n
)lua";

// ARGV: now, lease until, then (session id, user, last active ms or 0) triples.
// Returns {unknown session ids, users back from idle away}.
constexpr char kRenew[] = R"lua(
local now, exp = tonumber(ARGV[1]), tonumber(ARGV[2])
local unknown, back = {}, {}
for i = 3, #ARGV, 3 do
  local sid, u, act = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local m = sid..'\0'..u
  if redis.call('ZSCORE', LEASE, m) then
    redis.call('ZADD', LEASE, exp, m)
    if act > 0 then
      if act > now then act = now end
      local h = ukey(u)
      if redis.call('HGET', h, 'inv') ~= '1' then touch_ls(u, act) end
      local st = redis.call('HGET', h, 'st')
      if st == 'online' then
        redis.call('ZADD', ACTIVE, 'GT', act, u)
      elseif st == 'away' and redis.call('HGET', h, 'auto') == '1' and act > tonumber(redis.call('HGET', h, 'since') or '0') then
        redis.call('HSET', h, 'st', 'online', 'auto', '0', 'since', s(now))
        redis.call('ZADD', ACTIVE, act, u)
        if redis.call('HGET', h, 'pub') == '1' then back[#back + 1] = u end
      end
    end
  else
    unknown[#unknown + 1] = sid
  end
end
return {unknown, back}
)lua";

// ARGV: user, status ('online'|'away'|'offline'|''), set activity ('1'|'0'), activity, now.
// Returns 'online', 'offline', 'update' or ''.
constexpr char kSetStatus[] = R"lua(
local u, status, set_act, act, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local h = ukey(u)
local connected = redis.call('HLEN', skey(u)) > 0
local pub = redis.call('HGET', h, 'pub') == '1'
local st = redis.call('HGET', h, 'st') or 'online'
local changed = false
if set_act == '1' and (redis.call('HGET', h, 'act') or '') ~= act then
  redis.call('HSET', h, 'act', act)
  changed = true
end
if status == '' and st == 'away' and redis.call('HGET', h, 'auto') == '1' then status = 'online' end
if status == 'offline' then
  if redis.call('HGET', h, 'inv') ~= '1' and connected then touch_ls(u, now) end
  redis.call('HSET', h, 'inv', '1')
elseif status == 'online' or status == 'away' then
  redis.call('HSET', h, 'inv', '0')
  if st ~= status then
    changed = true
    redis.call('HSET', h, 'since', s(now))
  end
  redis.call('HSET', h, 'st', status, 'auto', '0')
  st = status
end
if st == 'online' and connected then redis.call('ZADD', ACTIVE, now, u) else redis.call('ZREM', ACTIVE, u) end
if redis.call('HGET', h, 'inv') == '1' then
  if pub then
    redis.call('HSET', h, 'pub', '0')
    redis.call('ZREM', PENDING, u)
    return 'offline'
  end
  return ''
end
if not connected then return '' end
touch_ls(u, now)
if not pub then
  redis.call('HSET', h, 'pub', '1')
  return 'online'
end
if changed then return 'update' end
return ''
)lua";

// ARGV: now, debounce, idle (0: off), limit. Returns {expired, offline users, away users}.
constexpr char kSweep[] = R"lua(
local now, debounce, idle, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', LEASE, '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(expired) do
  redis.call('ZREM', LEASE, m)
  local p = string.find(m, '\0', 1, true)
  if p then
    local sid, u = string.sub(m, 1, p - 1), string.sub(m, p + 1)
    if redis.call('HDEL', skey(u), sid) == 1 and redis.call('HLEN', skey(u)) == 0 then
      last_session_gone(u, now, debounce)
    end
  end
end
local offline = {}
for _, u in ipairs(redis.call('ZRANGEBYSCORE', PENDING, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', PENDING, u)
  local h = ukey(u)
  if redis.call('HLEN', skey(u)) == 0 and redis.call('HGET', h, 'pub') == '1' then
    redis.call('HSET', h, 'pub', '0')
    offline[#offline + 1] = u
  end
end
local away = {}
if idle > 0 then
  for _, u in ipairs(redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', now - idle, 'LIMIT', 0, limit)) do
    redis.call('ZREM', ACTIVE, u)
    local h = ukey(u)
    if redis.call('HGET', h, 'st') == 'online' and redis.call('HLEN', skey(u)) > 0 then
      redis.call('HSET', h, 'st', 'away', 'auto', '1', 'since', s(now))
      if redis.call('HGET', h, 'pub') == '1' then away[#away + 1] = u end
    end
  end
end
return {#expired, offline, away}
)lua";

// ARGV: (user, ms) pairs. Raises cached values only; not marked dirty.
constexpr char kCacheLastSeen[] = R"lua(
for i = 1, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', LS, ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', LS, ARGV[i], ARGV[i + 1]) end
end
return 0
)lua";

// ARGV: limit. Returns flat {user, ms, ...} of dirty users, removing them from the dirty set.
constexpr char kTakeDirty[] = R"lua(
local users = redis.call('SPOP', DIRTY, tonumber(ARGV[1]))
local out = {}
for _, u in ipairs(users) do
  local v = redis.call('HGET', LS, u)
  if v then
    out[#out + 1] = u
    out[#out + 1] = v
  end
end
return out
)lua";

std::string Script(const char* body) { return absl::StrCat(kPrelude, body); }
std::string Ms(absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); }
std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); }

absl::Status Unexpected(const char* what, const redis::Reply& reply) {
  return absl::InternalError(absl::StrCat(what, ": unexpected reply ", redis::DebugString(reply)));
}

std::vector<std::string> Strings(const redis::Reply& reply) {
  std::vector<std::string> out;
  for (const auto& e : reply.elements) out.push_back(e.str);
  return out;
}

}  // namespace

const char* StatusName(Status status) {
  switch (status) {
    case Status::kOnline:
      return "online";
    case Status::kAway:
      return "away";
    case Status::kOffline:
      return "offline";
  }
  return "offline";
}

RedisPresenceState::RedisPresenceState(redis::Client& redis)
    : redis_(redis),
      register_(Script(kRegister)),
      unregister_(Script(kUnregister)),
      renew_(Script(kRenew)),
      set_status_(Script(kSetStatus)),
      sweep_(Script(kSweep)),
      cache_ls_(Script(kCacheLastSeen)),
      take_dirty_(Script(kTakeDirty)) {}

absl::StatusOr<PresenceState::RegisterResult> RedisPresenceState::Register(const SessionInfo& session, absl::Time now,
                                                                           absl::Time lease_until) {
  std::string info = absl::StrCat(session.gateway_id, "\t", session.device, "\t", session.platform);
  SB_ASSIGN_OR_RETURN(redis::Reply reply,
                      register_.Run(redis_, {}, {session.user_id, session.session_id, info, Ms(now), Ms(lease_until)}));
  if (!reply.is_array() || reply.elements.size() != 3) return Unexpected("register", reply);
  return RegisterResult{.sessions = static_cast<int>(reply.elements[0].integer),
                        .first_session = reply.elements[1].integer == 1,
                        .went_online = reply.elements[2].integer == 1};
}

absl::StatusOr<int> RedisPresenceState::Unregister(const std::string& user, const std::string& session_id,
                                                   const std::string& gateway_id, absl::Time now,
                                                   absl::Duration debounce) {
  SB_ASSIGN_OR_RETURN(redis::Reply reply,
                      unregister_.Run(redis_, {}, {user, session_id, Ms(now), Ms(debounce), gateway_id}));
  if (!reply.is_integer()) return Unexpected("unregister", reply);
  return static_cast<int>(reply.integer);
}

absl::StatusOr<PresenceState::RenewResult> RedisPresenceState::Renew(const std::vector<SessionInfo>& sessions,
                                                                     absl::Time now, absl::Time lease_until) {
  RenewResult result;
  // Bounded scripts: a gateway with 100k sockets must not block Redis in one long call.
  constexpr size_t kChunk = 500;
  std::vector<redis::Script::Invocation> calls;
  for (size_t start = 0; start < sessions.size(); start += kChunk) {
    redis::Script::Invocation call;
    call.args = {Ms(now), Ms(lease_until)};
    for (size_t i = start; i < std::min(sessions.size(), start + kChunk); ++i) {
      const SessionInfo& s = sessions[i];
      call.args.push_back(s.session_id);
      call.args.push_back(s.user_id);
      call.args.push_back(s.last_active ? Ms(*s.last_active) : "0");
    }
    calls.push_back(std::move(call));
  }
  SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, renew_.RunPipelined(redis_, calls));
  for (const auto& reply : replies) {
    if (reply.is_error()) return redis::ErrorReplyToStatus(reply.str);
    if (!reply.is_array() || reply.elements.size() != 2) return Unexpected("renew", reply);
    for (auto& id : Strings(reply.elements[0])) result.unknown_session_ids.push_back(std::move(id));
    for (auto& u : Strings(reply.elements[1])) result.back_online.push_back(std::move(u));
  }
  return result;
}

absl::StatusOr<PresenceState::Change> RedisPresenceState::SetStatus(const std::string& user,
                                                                    std::optional<Status> status,
                                                                    std::optional<std::string> activity,
                                                                    absl::Time now) {
  SB_ASSIGN_OR_RETURN(redis::Reply reply,
                      set_status_.Run(redis_, {}, {user, status ? StatusName(*status) : "", activity ? "1" : "0",
                                                   activity.value_or(""), Ms(now)}));
  SB_ASSIGN_OR_RETURN(std::string change, reply.AsString());
  if (change == "online") return Change::kOnline;
  if (change == "offline") return Change::kOffline;
  if (change == "update") return Change::kUpdate;
  return Change::kNone;
}

absl::StatusOr<PresenceState::SweepResult> RedisPresenceState::Sweep(absl::Time now, absl::Duration debounce,
                                                                     absl::Duration idle_away, int limit) {
  SB_ASSIGN_OR_RETURN(redis::Reply reply,
                      sweep_.Run(redis_, {}, {Ms(now), Ms(debounce), Ms(idle_away), absl::StrCat(limit)}));
  if (!reply.is_array() || reply.elements.size() != 3) return Unexpected("sweep", reply);
  return SweepResult{.expired_sessions = static_cast<int>(reply.elements[0].integer),
                     .went_offline = Strings(reply.elements[1]),
                     .went_away = Strings(reply.elements[2])};
}

absl::StatusOr<std::vector<PresenceState::UserState>> RedisPresenceState::Read(const std::vector<std::string>& users) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& u : users) {
    commands.push_back({"HMGET", "sb:pr:u:" + u, "pub", "st", "inv", "act"});
    commands.push_back({"HLEN", "sb:pr:s:" + u});
    commands.push_back({"HGET", "sb:pr:ls", u});
  }
  SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_.Pipeline(std::move(commands)));
  std::vector<UserState> out;
  for (size_t i = 0; i < users.size(); ++i) {
    const redis::Reply& fields = replies[3 * i];
    const redis::Reply& count = replies[3 * i + 1];
    const redis::Reply& ls = replies[3 * i + 2];
    for (const auto* r : {&fields, &count, &ls}) {
      if (r->is_error()) return redis::ErrorReplyToStatus(r->str);
    }
    if (!fields.is_array() || fields.elements.size() != 4) return Unexpected("read", fields);
    UserState s;
    s.published_online = fields.elements[0].str == "1";
    s.status = fields.elements[1].str == "away" ? Status::kAway : Status::kOnline;
    s.invisible = fields.elements[2].str == "1";
    s.activity = fields.elements[3].str;
    s.sessions = static_cast<int>(count.integer);
    int64_t ms = 0;
    if (ls.is_string() && absl::SimpleAtoi(ls.str, &ms)) s.last_seen_ms = ms;
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status RedisPresenceState::CacheLastSeen(const std::vector<std::pair<std::string, int64_t>>& entries) {
  if (entries.empty()) return absl::OkStatus();
  std::vector<std::string> args;
  for (const auto& [user, ms] : entries) {
    args.push_back(user);
    args.push_back(absl::StrCat(ms));
  }
  return cache_ls_.Run(redis_, {}, args).status();
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> RedisPresenceState::TakeDirtyLastSeen(int limit) {
  SB_ASSIGN_OR_RETURN(redis::Reply reply, take_dirty_.Run(redis_, {}, {absl::StrCat(limit)}));
  if (!reply.is_array()) return Unexpected("take dirty", reply);
  std::vector<std::pair<std::string, int64_t>> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    int64_t ms = 0;
    if (absl::SimpleAtoi(reply.elements[i + 1].str, &ms)) out.emplace_back(reply.elements[i].str, ms);
  }
  return out;
}

absl::Status RedisPresenceState::MarkDirty(const std::vector<std::string>& users) {
  if (users.empty()) return absl::OkStatus();
  std::vector<std::string> command{"SADD", "sb:pr:dirty"};
  command.insert(command.end(), users.begin(), users.end());
  return redis_.Command(std::move(command)).status();
}

absl::StatusOr<PresenceState::Counts> RedisPresenceState::Count() {
  SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                      redis_.Pipeline({{"SCARD", "sb:pr:online"}, {"ZCARD", "sb:pr:lease"}}));
  for (const auto& r : replies) {
    if (r.is_error()) return redis::ErrorReplyToStatus(r.str);
  }
  return Counts{.online_users = replies[0].integer, .sessions = replies[1].integer};
}

}  // namespace sb::presence
