// Redis names of the bus (DESIGN.md "Bus and delivery guarantees").
//
// Ids are arbitrary strings of 1..128 bytes (the host app owns user ids) and go into the names
// as-is: Redis keys and channels are binary safe, and since the id is the whole suffix after a
// fixed prefix, no id can produce another id's name. Every function returns InvalidArgument for an
// empty id, one longer than kMaxIdBytes, or one that is not valid UTF-8 (ids are copied into the
// envelope's proto3 `string` fields, which protobuf refuses to parse unless they are UTF-8; JWT
// `sub` claims are JSON strings, so real ids always are). NUL and any other code point are fine.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sb::bus {

inline constexpr size_t kMaxIdBytes = 128;

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// OK for a UTF-8 id of 1..kMaxIdBytes bytes; `what` names it in the error ("user id", "room id").
absl::Status ValidateId(absl::string_view id, absl::string_view what);

absl::StatusOr<std::string> UserChannel(absl::string_view user);      // "sb:u:{user}"
absl::StatusOr<std::string> RoomChannel(absl::string_view room);      // "sb:r:{room}"
absl::StatusOr<std::string> PresenceChannel(absl::string_view user);  // "sb:p:{user}"
absl::StatusOr<std::string> UserStreamKey(absl::string_view user);    // "sb:s:u:{user}"
absl::StatusOr<std::string> RoomStreamKey(absl::string_view room);    // "sb:s:r:{room}"
// Idempotent publishes: the hash "sb:d:{event_id}" maps each target ("u:{user}", "r:{room}") to
// the offset it got; event ids follow the same rules as user and room ids.
absl::StatusOr<std::string> DedupeKey(absl::string_view event_id);    // "sb:d:{event_id}"

// A control event on a user channel: every gateway instance holding sockets of that user takes
// them out of payload.room (a Socket.IO room, e.g. "conversation:42" after the user was removed
// from it) and then emits payload.event with payload.payload to each socket that was in it (when
// event is set). Payload: JSON {room, event?, payload?}. Like every "sb:" event it is never
// delivered or replayed to clients as itself.
inline constexpr char kControlLeaveRoom[] = "sb:control:leave-room";

// The one key holding the last stream id issued by any publish (see publisher.h, "Offsets").
inline constexpr char kLastStreamIdKey[] = "sb:s:last-id";

}  // namespace sb::bus
