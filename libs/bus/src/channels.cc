#include "sb/bus/channels.h"

#include "absl/strings/str_cat.h"

namespace sb::bus {
namespace {

absl::StatusOr<std::string> Name(absl::string_view prefix, absl::string_view id, absl::string_view what) {
  if (absl::Status s = ValidateId(id, what); !s.ok()) return s;
  return absl::StrCat(prefix, id);
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;  // continuation byte first, overlong 2-byte lead, or beyond U+10FFFF
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

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

}  // namespace sb::bus
