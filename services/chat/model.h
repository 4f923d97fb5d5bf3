// Plain data of the chat domain (no gRPC or libpqxx types). Times are Unix epoch milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sb::chat {

struct User {
  std::string id;
  std::string username;
  std::string display_name;
  std::string avatar_url;
  bool is_online = false;
};

struct Participant {
  User user;
  std::string role = "member";  // "member" | "admin"
  int64_t last_read_seq = 0;
  bool muted = false;
  int64_t joined_at_ms = 0;
};

struct Moderation {
  bool links_stripped = false;
  bool shadowed = false;
  std::string reason;  // "cooldown", "new_account", "shadowed"; joined with ',' when several
};

struct Message {
  int64_t id = 0;
  int64_t conversation_id = 0;
  int64_t seq = 0;
  std::string sender_id;  // "" for system messages
  std::string client_message_id;
  std::string type = "text";  // "text" | "image" | "system"
  std::string content;        // "" once deleted
  std::string media_url;
  int64_t created_at_ms = 0;
  std::optional<int64_t> edited_at_ms;
  bool deleted = false;
  Moderation moderation;  // stored on the message; shown only to its sender
  bool is_read = false;   // list views: the viewer has read it
};

struct Conversation {
  int64_t id = 0;
  std::string type;  // "direct" | "group"
  std::string title;
  std::string creator_id;
  std::vector<Participant> participants;  // active ones
  std::optional<Message> last_message;
  int64_t unread_count = 0;  // viewer's
  bool muted = false;        // viewer's
  int64_t last_read_seq = 0; // viewer's
  int64_t last_seq = 0;
  int64_t last_activity_ms = 0;
  int64_t created_at_ms = 0;
};

// One page of a user's conversations.
struct ConversationPage {
  std::vector<Conversation> conversations;
  std::string next_cursor;  // "" when there are no more
};

struct MessagePage {
  std::vector<Message> messages;  // ascending seq
  bool has_more = false;
};

// Who a change must be told to: the active participants of the conversation.
struct Audience {
  std::string user_id;
  bool muted = false;
};

struct UnreadCounts {
  int64_t total = 0;
  std::vector<std::pair<int64_t, int64_t>> per_conversation;  // conversation id, count (> 0 only)
};

}  // namespace sb::chat
