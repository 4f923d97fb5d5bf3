#include "services/notification/preferences.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sb::notification {

absl::StatusOr<int> ParseClock(const std::string& text) {
  int h = 0, m = 0;
  if (text.size() != 5 || text[2] != ':' || !absl::SimpleAtoi(text.substr(0, 2), &h) ||
      !absl::SimpleAtoi(text.substr(3, 2), &m) || h < 0 || h > 23 || m < 0 || m > 59 ||
      !absl::ascii_isdigit(text[0]) || !absl::ascii_isdigit(text[3])) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a time of day HH:MM"));
  }
  return h * 60 + m;
}

std::string FormatClock(int minute) { return absl::StrFormat("%02d:%02d", minute / 60, minute % 60); }

bool TypeEnabled(const Preferences& prefs, const NotificationType& type) {
  auto it = prefs.type_overrides.find(type.name);
  return it != prefs.type_overrides.end() ? it->second : type.default_enabled;
}

bool InQuietHours(const Preferences& prefs, absl::Time now) {
  const QuietHours& q = prefs.quiet_hours;
  if (!q.enabled || q.start_minute == q.end_minute) return false;
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!absl::LoadTimeZone(prefs.time_zone, &tz)) tz = absl::UTCTimeZone();
  const absl::CivilMinute local = absl::ToCivilMinute(now, tz);
  const int minute = local.hour() * 60 + local.minute();
  if (q.start_minute < q.end_minute) return minute >= q.start_minute && minute < q.end_minute;
  return minute >= q.start_minute || minute < q.end_minute;
}

absl::Status ValidateTimeZone(const std::string& name) {
  absl::TimeZone tz;
  if (name.empty() || name.size() > 64 || !absl::LoadTimeZone(name, &tz)) {
    return absl::InvalidArgumentError(absl::StrCat("time_zone: \"", name, "\" is not a known IANA time zone"));
  }
  return absl::OkStatus();
}

}  // namespace sb::notification
