// Domain <-> switchboard.notification.v1 protobuf, and the JSON of events.
#pragma once

#include <map>
#include <string>

#include "services/notification/model.h"
#include "switchboard/notification/v1/notification.pb.h"

namespace sb::notification {

// The protobuf form; `data` gains entityType, entityId, senderId and deepLink when set.
void ToProto(const Notification& in, ::switchboard::notification::v1::Notification* out);
void ToProto(const NotificationType& in, ::switchboard::notification::v1::NotificationType* out);
void ToProto(const Preferences& in, const std::map<std::string, bool>& effective_types,
             ::switchboard::notification::v1::Preferences* out);
Actor FromProto(const ::switchboard::notification::v1::Actor& in);
::switchboard::notification::v1::Outcome ToProto(Outcome outcome);

// notification:new payload: the protobuf JSON (camelCase, int64 as strings, defaults printed) plus
// "updated": true|false.
std::string NotificationEventJson(const Notification& n, bool updated);
// The notification:unread payload: {"count":N}.
std::string UnreadEventJson(int64_t count);

}  // namespace sb::notification
