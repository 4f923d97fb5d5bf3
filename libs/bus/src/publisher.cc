#include "sb/bus/publisher.h"

#include <algorithm>
#include <compare>
#include <limits>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sb/bus/channels.h"
#include "sb/common/status.h"

namespace sb::bus {
namespace {

// KEYS[1] stream, KEYS[2] channel, KEYS[3] kLastStreamIdKey, KEYS[4] (optional) dedupe hash.
// ARGV[1] envelope (no offset), ARGV[2] "~" or "=", ARGV[3] max length, ARGV[4] TTL seconds (0:
// none), ARGV[5] dedupe field (the target), ARGV[6] dedupe TTL seconds. Returns {offset,
// receivers, repeated (0/1)}. The id is the next of the one sequence of every stream (see
// publisher.h, "Offsets"); TIME before writes is fine since Redis 7 replicates scripts by effects.
// Appending field 3 (tag 0x1A = 26, length, bytes) to the envelope sets its offset; see
// envelope.h. Stream ids are at most 41 bytes, so one length byte.
constexpr char kPublishLua[] = R"lua(
if KEYS[4] then
  local seen = redis.call('HGET', KEYS[4], ARGV[5])
  if seen then return {seen, 0, 1} end
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local seq = 0
local last = redis.call('GET', KEYS[3])
if last then
  local dash = string.find(last, '-', 1, true)
  if dash then
    local last_ms = tonumber(string.sub(last, 1, dash - 1))
    local last_seq = tonumber(string.sub(last, dash + 1))
    if last_ms and last_seq and ms <= last_ms then
      ms = last_ms
      seq = last_seq + 1
    end
  end
end
local id = string.format('%d-%d', ms, seq)
redis.call('SET', KEYS[3], id)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[3], id, 'e', ARGV[1])
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
if KEYS[4] then
  redis.call('HSET', KEYS[4], ARGV[5], id)
  redis.call('EXPIRE', KEYS[4], ARGV[6], 'NX')
end
local receivers = redis.call('PUBLISH', KEYS[2], ARGV[1] .. string.char(26, string.len(id)) .. id)
return {id, receivers, 0}
)lua";

// Users per pipeline in PublishToUsers: large enough to amortize round trips, small enough to keep
// one pipeline's buffers modest.
constexpr size_t kUsersPerBatch = 256;

struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  auto operator<=>(const StreamId&) const = default;
  StreamId Successor() const {
    return seq == std::numeric_limits<uint64_t>::max() ? StreamId{ms + 1, 0} : StreamId{ms, seq + 1};
  }
};

bool ParseStreamId(absl::string_view text, StreamId* out) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('-', 1));
  return !parts.first.empty() && !parts.second.empty() && absl::SimpleAtoi(parts.first, &out->ms) &&
         absl::SimpleAtoi(parts.second, &out->seq) && parts.first.find_first_not_of("0123456789") ==
         absl::string_view::npos && parts.second.find_first_not_of("0123456789") == absl::string_view::npos;
}

// Consumers parse envelopes with protobuf, which rejects proto3 strings that are not UTF-8; such
// an event would be dropped by every gateway, so refuse it here with a clear error instead.
absl::Status ValidateEventText(absl::string_view name, absl::string_view payload_json) {
  if (name.empty()) return absl::InvalidArgumentError("bus: event name must not be empty");
  if (!IsValidUtf8(name)) return absl::InvalidArgumentError("bus: event name is not valid UTF-8");
  if (!IsValidUtf8(payload_json)) return absl::InvalidArgumentError("bus: payload is not valid UTF-8");
  return absl::OkStatus();
}

// Seconds for EXPIRE: a positive duration never rounds down to 0 (which would mean "no TTL").
int64_t TtlSeconds(absl::Duration ttl) {
  int64_t seconds = absl::ToInt64Seconds(ttl);
  return ttl > absl::ZeroDuration() && seconds == 0 ? 1 : seconds;
}

absl::Status ValidateEventId(absl::string_view event_id) {
  if (event_id.empty()) return absl::OkStatus();
  return DedupeKey(event_id).status();
}

// The offset of one script reply {offset, receivers, repeated}.
absl::StatusOr<std::string> ReplyOffset(const redis::Reply& reply) {
  if (reply.is_error()) return redis::ErrorReplyToStatus(reply.str);
  if (!reply.is_array() || reply.elements.size() != 3 || !reply.elements[0].is_string()) {
    return absl::InternalError("bus: unexpected reply from the publish script");
  }
  return reply.elements[0].str;
}

}  // namespace

int CompareStreamIds(absl::string_view a, absl::string_view b) {
  StreamId x, y;
  const bool ok_a = ParseStreamId(a, &x), ok_b = ParseStreamId(b, &y);
  if (!ok_a || !ok_b) return static_cast<int>(ok_a) - static_cast<int>(ok_b);
  return x < y ? -1 : (x == y ? 0 : 1);
}

absl::StatusOr<Publisher> Publisher::Create(redis::Client& client, PublisherOptions options) {
  if (options.max_stream_length < 1) return absl::InvalidArgumentError("bus: max_stream_length must be >= 1");
  if (options.room_stream_max_length < 1) return absl::InvalidArgumentError("bus: room_stream_max_length must be >= 1");
  if (options.stream_ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("bus: negative stream_ttl");
  if (options.room_stream_ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("bus: room_stream_ttl must be > 0");
  if (options.dedupe_ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("bus: dedupe_ttl must be > 0");
  if (!IsValidUtf8(options.origin)) return absl::InvalidArgumentError("bus: origin is not valid UTF-8");
  return Publisher(client, std::move(options));
}

Publisher::Publisher(redis::Client& client, PublisherOptions options)
    : client_(&client), options_(std::move(options)), script_(kPublishLua) {}

redis::Script::Invocation Publisher::Invocation(std::string stream, std::string channel, const std::string& envelope,
                                                bool room, const std::string& dedupe_key,
                                                const std::string& target) const {
  redis::Script::Invocation invocation;
  invocation.keys = {std::move(stream), std::move(channel), kLastStreamIdKey};
  invocation.args = {envelope, options_.exact_trim ? "=" : "~",
                     std::to_string(room ? options_.room_stream_max_length : options_.max_stream_length),
                     std::to_string(TtlSeconds(room ? options_.room_stream_ttl : options_.stream_ttl))};
  if (!dedupe_key.empty()) {
    invocation.keys.push_back(dedupe_key);
    invocation.args.push_back(target);
    invocation.args.push_back(std::to_string(TtlSeconds(options_.dedupe_ttl)));
  }
  return invocation;
}

absl::StatusOr<std::string> Publisher::PublishToUser(absl::string_view user, absl::string_view name,
                                                     absl::string_view payload_json) {
  SB_ASSIGN_OR_RETURN(std::vector<std::string> offsets, PublishToUsers({std::string(user)}, name, payload_json));
  return std::move(offsets.front());
}

absl::StatusOr<std::vector<std::string>> Publisher::PublishToUsers(const std::vector<std::string>& users,
                                                                   absl::string_view name,
                                                                   absl::string_view payload_json,
                                                                   absl::string_view event_id) {
  return PublishBatch({UserEvent{users, std::string(name), std::string(payload_json), std::string(event_id)}});
}

absl::StatusOr<std::vector<std::string>> Publisher::PublishBatch(const std::vector<UserEvent>& events) {
  std::vector<redis::Script::Invocation> invocations;
  for (const UserEvent& event : events) SB_RETURN_IF_ERROR(AddInvocations(event, invocations));
  return RunInvocations(invocations);
}

absl::Status Publisher::AddInvocations(const UserEvent& user_event, std::vector<redis::Script::Invocation>& out) const {
  SB_RETURN_IF_ERROR(ValidateEventText(user_event.name, user_event.payload_json));
  SB_RETURN_IF_ERROR(ValidateEventId(user_event.event_id));
  Event event = MakeEvent(user_event.name, user_event.payload_json, options_.origin, "");
  std::string dedupe_key;
  if (!user_event.event_id.empty()) {
    event.set_id(user_event.event_id);
    dedupe_key = *DedupeKey(user_event.event_id);
  }
  for (const std::string& user : user_event.users) {
    SB_ASSIGN_OR_RETURN(std::string stream, UserStreamKey(user));
    SB_ASSIGN_OR_RETURN(std::string channel, UserChannel(user));
    event.set_target(absl::StrCat("u:", user));
    out.push_back(Invocation(std::move(stream), std::move(channel), event.SerializeAsString(), /*room=*/false,
                             dedupe_key, event.target()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Publisher::RunInvocations(
    const std::vector<redis::Script::Invocation>& invocations) {
  std::vector<std::string> offsets;
  offsets.reserve(invocations.size());
  for (size_t begin = 0; begin < invocations.size(); begin += kUsersPerBatch) {
    size_t end = std::min(invocations.size(), begin + kUsersPerBatch);
    std::vector<redis::Script::Invocation> batch(invocations.begin() + begin, invocations.begin() + end);
    SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, script_.RunPipelined(*client_, batch));
    for (redis::Reply& reply : replies) {
      SB_ASSIGN_OR_RETURN(std::string offset, ReplyOffset(reply));
      offsets.push_back(std::move(offset));
    }
  }
  return offsets;
}

absl::StatusOr<RoomPublished> Publisher::PublishToRoom(absl::string_view room, absl::string_view name,
                                                       absl::string_view payload_json, absl::string_view event_id) {
  SB_RETURN_IF_ERROR(ValidateEventText(name, payload_json));
  SB_RETURN_IF_ERROR(ValidateEventId(event_id));
  SB_ASSIGN_OR_RETURN(std::string channel, RoomChannel(room));
  SB_ASSIGN_OR_RETURN(std::string stream, RoomStreamKey(room));
  Event event = MakeEvent(name, payload_json, options_.origin, absl::StrCat("r:", room));
  std::string dedupe_key;
  if (!event_id.empty()) {
    event.set_id(std::string(event_id));
    dedupe_key = *DedupeKey(event_id);
  }
  redis::Script::Invocation invocation =
      Invocation(std::move(stream), std::move(channel), event.SerializeAsString(), /*room=*/true, dedupe_key,
                 event.target());
  SB_ASSIGN_OR_RETURN(redis::Reply reply, script_.Run(*client_, invocation.keys, invocation.args));
  SB_ASSIGN_OR_RETURN(std::string offset, ReplyOffset(reply));
  return RoomPublished{std::move(offset), reply.elements[1].integer};
}

absl::StatusOr<int64_t> Publisher::PublishPresence(absl::string_view user, absl::string_view name,
                                                   absl::string_view payload_json) {
  SB_RETURN_IF_ERROR(ValidateEventText(name, payload_json));
  SB_ASSIGN_OR_RETURN(std::string channel, PresenceChannel(user));
  Event event = MakeEvent(name, payload_json, options_.origin, absl::StrCat("p:", user));
  SB_ASSIGN_OR_RETURN(redis::Reply reply, client_->Command({"PUBLISH", channel, event.SerializeAsString()}));
  return reply.AsInteger();
}

namespace {

// Whether nothing after `after` was trimmed from a stream, from its XINFO STREAM reply. Trimming
// removes the oldest entries, so the trimmed ones are all below first-entry: nothing after the
// offset is missing when the stream never lost an entry (entries-added == length), when its
// oldest retained entry is at or below the offset, or when every id it ever took is.
absl::StatusOr<bool> NothingTrimmedAfter(const redis::Reply& info, const StreamId& after) {
  std::optional<StreamId> first, last_generated;
  std::optional<int64_t> length, added;
  for (size_t i = 0; i + 1 < info.elements.size(); i += 2) {
    const std::string& field = info.elements[i].str;
    const redis::Reply& value = info.elements[i + 1];
    StreamId id;
    if (field == "first-entry" && value.is_array() && !value.elements.empty() &&
        ParseStreamId(value.elements[0].str, &id)) {
      first = id;
    } else if (field == "last-generated-id" && ParseStreamId(value.str, &id)) {
      last_generated = id;
    } else if (field == "length" && value.is_integer()) {
      length = value.integer;
    } else if (field == "entries-added" && value.is_integer()) {
      added = value.integer;
    }
  }
  if (!last_generated || !length || !added) {
    return absl::InternalError("bus: XINFO STREAM without last-generated-id, length or entries-added (Redis < 7?)");
  }
  return *added == *length || (first && *first <= after) || *last_generated <= after;
}

}  // namespace

absl::StatusOr<StreamRead> ReadStreams(redis::Client& client, const std::vector<std::string>& keys,
                                       absl::string_view after_offset, int limit) {
  if (keys.empty() || keys.size() > 1000) return absl::InvalidArgumentError("bus: read 1..1000 streams at once");
  StreamId after;
  if (!ParseStreamId(after_offset, &after)) {
    return absl::InvalidArgumentError(absl::StrCat("bus: bad stream offset '", after_offset, "'"));
  }
  if (limit < 1 || limit > 10000) return absl::InvalidArgumentError("bus: limit must be in 1..10000");

  // Per stream: XRANGE, then XINFO (a trim between the two makes the answer conservative, never
  // wrongly optimistic); last, the sequence's last id.
  std::vector<std::vector<std::string>> commands;
  commands.reserve(keys.size() * 2 + 1);
  const std::string exclusive = absl::StrCat("(", after_offset);
  for (const std::string& key : keys) {
    commands.push_back({"XRANGE", key, exclusive, "+", "COUNT", std::to_string(limit)});
    commands.push_back({"XINFO", "STREAM", key});
  }
  commands.push_back({"GET", kLastStreamIdKey});
  SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, client.Pipeline(commands));

  StreamRead result;
  result.recoverable = true;
  struct Entry {
    StreamId id;
    size_t source;
    Event event;
  };
  std::vector<Entry> entries;
  for (size_t k = 0; k < keys.size(); ++k) {
    const redis::Reply& range = replies[2 * k];
    const redis::Reply& info = replies[2 * k + 1];
    if (range.is_error()) return redis::ErrorReplyToStatus(range.str);
    for (const redis::Reply& entry : range.elements) {
      // Each entry is [id, [field, value, ...]].
      StreamId id;
      if (entry.elements.size() != 2 || !ParseStreamId(entry.elements[0].str, &id) ||
          entry.elements[1].elements.size() < 2 || entry.elements[1].elements[0].str != "e") {
        ++result.malformed;
        continue;
      }
      auto event = DecodeEvent(entry.elements[1].elements[1].str);
      if (!event.ok()) {
        ++result.malformed;
        continue;
      }
      event->set_offset(entry.elements[0].str);
      entries.push_back({id, k, *std::move(event)});
    }
    if (info.is_error()) continue;  // no such stream: nothing to miss (see StreamRead)
    SB_ASSIGN_OR_RETURN(bool intact, NothingTrimmedAfter(info, after));
    if (!intact) result.recoverable = false;
  }
  const redis::Reply& last = replies.back();
  StreamId issued;
  if (last.is_error()) return redis::ErrorReplyToStatus(last.str);
  if (last.is_nil() ? after > StreamId{} : (!ParseStreamId(last.str, &issued) || after > issued)) {
    result.recoverable = false;  // an offset this Redis never issued
  }

  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.id < b.id; });
  if (entries.size() > static_cast<size_t>(limit)) entries.resize(static_cast<size_t>(limit));
  for (Entry& entry : entries) {
    result.events.push_back(std::move(entry.event));
    result.sources.push_back(entry.source);
  }
  return result;
}

absl::StatusOr<StreamRead> ReadUserStream(redis::Client& client, absl::string_view user,
                                          absl::string_view after_offset, int limit) {
  SB_ASSIGN_OR_RETURN(std::string key, UserStreamKey(user));
  return ReadStreams(client, {key}, after_offset, limit);
}

}  // namespace sb::bus
