#include "sb/bus/envelope.h"

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace sb::bus {

std::string NewEventId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t words[2] = {rng(), rng()};
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(words), sizeof words));
}

Event MakeEvent(absl::string_view name, absl::string_view payload_json, absl::string_view origin,
                absl::string_view target) {
  Event event;
  event.set_version(kEnvelopeVersion);
  event.set_id(NewEventId());
  event.set_name(std::string(name));
  event.set_payload_json(std::string(payload_json));
  event.set_timestamp_ms(absl::ToUnixMillis(absl::Now()));
  event.set_origin(std::string(origin));
  event.set_target(std::string(target));
  return event;
}

absl::StatusOr<Event> DecodeEvent(absl::string_view bytes) {
  Event event;
  if (!event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("bus: message is not an Event envelope");
  }
  if (event.version() != kEnvelopeVersion) {
    return absl::InvalidArgumentError(absl::StrCat("bus: unknown envelope version ", event.version()));
  }
  if (event.id().empty() || event.name().empty()) {
    return absl::InvalidArgumentError("bus: envelope without id or name");
  }
  return event;
}

}  // namespace sb::bus
