// The bus envelope (switchboard.bus.v1.Event) and its wire forms.
//
// Wire format (version 1):
// - Stream entries (sb:s:u:{user}, sb:s:r:{room}) have one field "e" holding the serialized Event
//   WITHOUT offset; the entry id is the offset.
// - Pub/sub messages are a serialized Event. For user and room channels the publishing Lua script appends
//   protobuf field 3 (offset) to the bytes: tag 0x1A, one length byte, the stream id (at most
//   41 bytes). Protobuf parses concatenated encodings as a merge (last value of a field wins), so
//   the message decodes to the same Event with `offset` set, with no extra framing to agree on.
//   Presence messages carry no offset.
// Consumers accept only version == kEnvelopeVersion with a non-empty id and name.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "switchboard/bus/v1/event.pb.h"

namespace sb::bus {

using Event = ::switchboard::bus::v1::Event;

inline constexpr uint32_t kEnvelopeVersion = 1;

// A fresh random event id: 32 lower-case hex chars (128 bits).
std::string NewEventId();

// An envelope with version, a fresh id, the current time and the given fields.
Event MakeEvent(absl::string_view name, absl::string_view payload_json, absl::string_view origin,
                absl::string_view target);

// Parses a pub/sub message or stream entry. InvalidArgument for bytes that are not an Event, an
// unknown version, or a missing id or name.
absl::StatusOr<Event> DecodeEvent(absl::string_view bytes);

}  // namespace sb::bus
