// Preference rules: which types a user receives and when push is quiet. Pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/notification/model.h"

namespace sb::notification {

// "HH:MM" (00:00..23:59) -> minutes after midnight; InvalidArgument otherwise.
absl::StatusOr<int> ParseClock(const std::string& text);
std::string FormatClock(int minute);

// The user's toggle for `type`, else the type's default.
bool TypeEnabled(const Preferences& prefs, const NotificationType& type);

// True when `now`, in the user's time zone, falls in [start, end) of the quiet hours (a window
// whose end is before its start spans midnight). An unknown time zone counts as UTC.
bool InQuietHours(const Preferences& prefs, absl::Time now);

// InvalidArgument unless `name` is an IANA time zone absl can load.
absl::Status ValidateTimeZone(const std::string& name);

}  // namespace sb::notification
