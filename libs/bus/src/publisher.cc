#include "sb/bus/publisher.h"

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

// KEYS[1] stream, KEYS[2] channel. ARGV[1] envelope (no offset), ARGV[2] "~" or "=", ARGV[3] max
// length, ARGV[4] TTL seconds (0: none). Appending field 3 (tag 0x1A = 26, length, bytes) to the
// envelope sets its offset; see envelope.h. Stream ids are at most 41 bytes, so one length byte.
constexpr char kPublishToUserLua[] = R"lua(
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[3], '*', 'e', ARGV[1])
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
redis.call('PUBLISH', KEYS[2], ARGV[1] .. string.char(26, string.len(id)) .. id)
return id
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

}  // namespace

absl::StatusOr<Publisher> Publisher::Create(redis::Client& client, PublisherOptions options) {
  if (options.max_stream_length < 1) return absl::InvalidArgumentError("bus: max_stream_length must be >= 1");
  if (options.stream_ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("bus: negative stream_ttl");
  if (!IsValidUtf8(options.origin)) return absl::InvalidArgumentError("bus: origin is not valid UTF-8");
  return Publisher(client, std::move(options));
}

Publisher::Publisher(redis::Client& client, PublisherOptions options)
    : client_(&client), options_(std::move(options)), script_(kPublishToUserLua) {}

std::vector<std::string> Publisher::ScriptArgs(const std::string& envelope) const {
  int64_t ttl_seconds = absl::ToInt64Seconds(options_.stream_ttl);
  if (options_.stream_ttl > absl::ZeroDuration() && ttl_seconds == 0) ttl_seconds = 1;
  return {envelope, options_.exact_trim ? "=" : "~", std::to_string(options_.max_stream_length),
          std::to_string(ttl_seconds)};
}

absl::StatusOr<std::string> Publisher::PublishToUser(absl::string_view user, absl::string_view name,
                                                     absl::string_view payload_json) {
  SB_ASSIGN_OR_RETURN(std::vector<std::string> offsets, PublishToUsers({std::string(user)}, name, payload_json));
  return std::move(offsets.front());
}

absl::StatusOr<std::vector<std::string>> Publisher::PublishToUsers(const std::vector<std::string>& users,
                                                                   absl::string_view name,
                                                                   absl::string_view payload_json) {
  return PublishBatch({UserEvent{users, std::string(name), std::string(payload_json)}});
}

absl::StatusOr<std::vector<std::string>> Publisher::PublishBatch(const std::vector<UserEvent>& events) {
  std::vector<redis::Script::Invocation> invocations;
  for (const UserEvent& event : events) SB_RETURN_IF_ERROR(AddInvocations(event, invocations));
  return RunInvocations(invocations);
}

absl::Status Publisher::AddInvocations(const UserEvent& user_event, std::vector<redis::Script::Invocation>& out) const {
  SB_RETURN_IF_ERROR(ValidateEventText(user_event.name, user_event.payload_json));
  Event event = MakeEvent(user_event.name, user_event.payload_json, options_.origin, "");
  for (const std::string& user : user_event.users) {
    SB_ASSIGN_OR_RETURN(std::string stream, UserStreamKey(user));
    SB_ASSIGN_OR_RETURN(std::string channel, UserChannel(user));
    event.set_target(absl::StrCat("u:", user));
    out.push_back({{std::move(stream), std::move(channel)}, ScriptArgs(event.SerializeAsString())});
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
      SB_ASSIGN_OR_RETURN(std::string offset, reply.AsString());
      offsets.push_back(std::move(offset));
    }
  }
  return offsets;
}

absl::StatusOr<int64_t> Publisher::PublishToRoom(absl::string_view room, absl::string_view name,
                                                 absl::string_view payload_json) {
  SB_RETURN_IF_ERROR(ValidateEventText(name, payload_json));
  SB_ASSIGN_OR_RETURN(std::string channel, RoomChannel(room));
  Event event = MakeEvent(name, payload_json, options_.origin, absl::StrCat("r:", room));
  SB_ASSIGN_OR_RETURN(redis::Reply reply, client_->Command({"PUBLISH", channel, event.SerializeAsString()}));
  return reply.AsInteger();
}

absl::StatusOr<int64_t> Publisher::PublishPresence(absl::string_view user, absl::string_view name,
                                                   absl::string_view payload_json) {
  SB_RETURN_IF_ERROR(ValidateEventText(name, payload_json));
  SB_ASSIGN_OR_RETURN(std::string channel, PresenceChannel(user));
  Event event = MakeEvent(name, payload_json, options_.origin, absl::StrCat("p:", user));
  SB_ASSIGN_OR_RETURN(redis::Reply reply, client_->Command({"PUBLISH", channel, event.SerializeAsString()}));
  return reply.AsInteger();
}

absl::StatusOr<StreamRead> ReadUserStream(redis::Client& client, absl::string_view user,
                                          absl::string_view after_offset, int limit) {
  SB_ASSIGN_OR_RETURN(std::string key, UserStreamKey(user));
  StreamId after;
  if (!ParseStreamId(after_offset, &after)) {
    return absl::InvalidArgumentError(absl::StrCat("bus: bad stream offset '", after_offset, "'"));
  }
  if (limit < 1 || limit > 10000) return absl::InvalidArgumentError("bus: limit must be in 1..10000");

  // XINFO runs after XRANGE: a trim between the two makes the answer conservative (not
  // recoverable), never wrongly optimistic.
  SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                      client.Pipeline({{"XRANGE", key, absl::StrCat("(", after_offset), "+", "COUNT",
                                        std::to_string(limit)},
                                       {"XINFO", "STREAM", key}}));
  const redis::Reply& range = replies[0];
  const redis::Reply& info = replies[1];
  if (range.is_error()) return redis::ErrorReplyToStatus(range.str);

  StreamRead result;
  for (const redis::Reply& entry : range.elements) {
    // Each entry is [id, [field, value, ...]].
    if (entry.elements.size() != 2 || entry.elements[1].elements.size() < 2 ||
        entry.elements[1].elements[0].str != "e") {
      ++result.malformed;
      continue;
    }
    auto event = DecodeEvent(entry.elements[1].elements[1].str);
    if (!event.ok()) {
      ++result.malformed;
      continue;
    }
    event->set_offset(entry.elements[0].str);
    result.events.push_back(*std::move(event));
  }

  if (info.is_error()) {
    // No such key: the stream expired or Redis lost it, so whatever followed the offset is gone.
    result.recoverable = false;
    return result;
  }
  std::optional<StreamId> first;
  std::optional<StreamId> last_generated;
  for (size_t i = 0; i + 1 < info.elements.size(); i += 2) {
    const std::string& field = info.elements[i].str;
    const redis::Reply& value = info.elements[i + 1];
    StreamId id;
    if (field == "first-entry" && value.is_array() && !value.elements.empty() &&
        ParseStreamId(value.elements[0].str, &id)) {
      first = id;
    } else if (field == "last-generated-id" && ParseStreamId(value.str, &id)) {
      last_generated = id;
    }
  }
  if (!last_generated) return absl::InternalError("bus: XINFO STREAM without last-generated-id");
  if (after > *last_generated) {
    result.recoverable = false;  // an offset this stream never issued: a different incarnation
  } else if (!first) {
    result.recoverable = after == *last_generated;  // empty stream: only the newest offset missed nothing
  } else {
    // Stream ids are not dense, so an oldest id beyond the offset's successor may hide trimmed
    // events; we cannot tell, and say so.
    result.recoverable = *first <= after.Successor();
  }
  return result;
}

}  // namespace sb::bus
