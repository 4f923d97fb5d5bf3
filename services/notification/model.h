// Plain data of the notification domain (no gRPC or libpqxx types). Times are Unix epoch ms.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sb::notification {

struct Actor {
  std::string id;
  std::string name;  // display name; "" shows the id
  std::string avatar_url;
};

struct Notification {
  int64_t id = 0;
  std::string recipient_id;
  std::string type;
  Actor actor;                  // the latest actor
  std::vector<Actor> actors;    // ≤ kMaxActors distinct actors, latest first
  int64_t count = 1;            // events collapsed into it
  std::string entity_type;
  std::string entity_id;
  std::string title;
  std::string body;
  std::string deep_link;
  std::map<std::string, std::string> data;
  std::string group_key;
  std::optional<int64_t> read_at_ms;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

inline constexpr size_t kMaxActors = 3;

struct NotificationType {
  std::string name;
  std::string title_template;
  std::string body_template;
  std::string deep_link_template;
  bool default_enabled = true;
  bool push = true;
  bool built_in = false;
};

// Quiet hours as minutes after local midnight; start == end or disabled: none.
struct QuietHours {
  bool enabled = false;
  int start_minute = 0;
  int end_minute = 0;
};

struct Preferences {
  std::string user_id;
  bool push_enabled = true;
  bool email_enabled = true;
  std::map<std::string, bool> type_overrides;  // the user's own toggles
  QuietHours quiet_hours;
  std::string time_zone = "UTC";
};

enum class Outcome { kCreated, kCollapsed, kDuplicate, kDisabled };

struct NotificationPage {
  std::vector<Notification> notifications;
  std::string next_cursor;
};

}  // namespace sb::notification
