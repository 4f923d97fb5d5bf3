#include "sb/bus/channels.h"

#include "absl/strings/str_cat.h"
#include "sb/common/utf8.h"

namespace sb::bus {
namespace {

absl::StatusOr<std::string> Name(absl::string_view prefix, absl::string_view id, absl::string_view what) {
  if (absl::Status s = ValidateId(id, what); !s.ok()) return s;
  return absl::StrCat(prefix, id);
}

}  // namespace

bool IsValidUtf8(absl::string_view text) { return sb::IsValidUtf8(std::string_view(text.data(), text.size())); }

absl::Status ValidateId(absl::string_view id, absl::string_view what) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", id.size(), " bytes, the limit is ", kMaxIdBytes));
  }
  if (!IsValidUtf8(id)) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> UserChannel(absl::string_view user) { return Name("sb:u:", user, "user id"); }
absl::StatusOr<std::string> RoomChannel(absl::string_view room) { return Name("sb:r:", room, "room id"); }
absl::StatusOr<std::string> PresenceChannel(absl::string_view user) { return Name("sb:p:", user, "user id"); }
absl::StatusOr<std::string> UserStreamKey(absl::string_view user) { return Name("sb:s:u:", user, "user id"); }
absl::StatusOr<std::string> RoomStreamKey(absl::string_view room) { return Name("sb:s:r:", room, "room id"); }
absl::StatusOr<std::string> DedupeKey(absl::string_view event_id) { return Name("sb:d:", event_id, "event id"); }

}  // namespace sb::bus
