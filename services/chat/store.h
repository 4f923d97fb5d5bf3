// ChatStore: every read and write of the `chat` schema (libpqxx behind sb::db). Methods are
// blocking: call them from a BlockingPool thread, never from gRPC or Asio threads. Thread-safe.
//
// Consistency rules kept here (docs/chat.md has the reasoning):
//  - A conversation's messages get seq 1, 2, 3, ... from conversations.last_seq, incremented under
//    that row's lock in the send transaction, so seq order is commit order: a reader paging with
//    after_seq never misses a message that commits later with a lower seq.
//  - participants.unread_count is maintained in the same transactions as the messages (send: +1
//    for every other active participant, unless the message is shadowed; delete: -1 for those who
//    had not read it; mark-read: recounted over the unread tail only). Reading counts never scans
//    messages.
//  - Direct conversations are unique per unordered pair (unique index + ON CONFLICT), so
//    concurrent find-or-create calls from both users get the same conversation.
//  - SendMessage is idempotent on (conversation, sender, client_message_id).
// Errors: NotFound (unknown conversation/message), PermissionDenied (not an active participant,
// blocked, not the author), InvalidArgument, and the sb::db mapping of database failures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/db/pool.h"
#include "services/chat/model.h"

namespace sb::chat {

class ChatStore {
 public:
  explicit ChatStore(sb::db::ConnectionPool& pool) : pool_(pool) {}

  // Creates or updates the directory entry; empty fields keep the stored values.
  absl::StatusOr<User> UpsertUser(const User& user);

  // What the moderation gate needs about an author (the directory entry is created if missing,
  // so first_seen is when Switchboard first saw the user).
  struct AuthorInfo {
    absl::Time first_seen;
    bool shadowed = false;
  };
  absl::StatusOr<AuthorInfo> GetAuthor(const std::string& user_id);
  absl::Status SetShadowed(const std::string& user_id, bool shadowed, const std::string& reason);

  // The direct conversation of the pair (created with both as participants if missing);
  // `created` tells which. PermissionDenied if either blocked the other.
  struct DirectResult {
    Conversation conversation;
    bool created = false;
  };
  absl::StatusOr<DirectResult> FindOrCreateDirect(const std::string& user_id, const std::string& other_user_id);
  absl::StatusOr<Conversation> CreateGroup(const std::string& creator_id, const std::string& title,
                                           const std::vector<std::string>& member_ids);
  // The conversation as `viewer` sees it (their unread count, mute, read position).
  absl::StatusOr<Conversation> GetConversation(const std::string& viewer, int64_t conversation_id);
  // Most recent activity first; `cursor` is a previous page's next_cursor or "".
  absl::StatusOr<ConversationPage> ListConversations(const std::string& viewer, int limit, const std::string& cursor);
  absl::Status SetMuted(const std::string& viewer, int64_t conversation_id, bool muted);

  struct NewMessage {
    int64_t conversation_id = 0;
    std::string sender_id;
    std::string client_message_id;
    std::string type = "text";
    std::string content;
    std::string media_url;
    Moderation moderation;
  };
  struct SendResult {
    Message message;
    bool created = false;  // false: an earlier send with the same client_message_id
    std::vector<Audience> audience;
  };
  // Group membership; see chat.proto for the rules. `affected` lists everyone to tell (the
  // active participants after the change plus whoever was removed or left).
  struct MembershipResult {
    Conversation conversation;  // as `actor` sees it (empty after Leave)
    std::vector<std::string> affected;
    // The change's system message (docs/chat.md), stored in the same transaction; for Leave its
    // audience leaves out the leaver. None for role changes.
    std::optional<SendResult> system_message;
  };
  absl::StatusOr<MembershipResult> AddParticipants(const std::string& actor, int64_t conversation_id,
                                                   const std::vector<std::string>& users);
  absl::StatusOr<MembershipResult> RemoveParticipant(const std::string& actor, int64_t conversation_id,
                                                     const std::string& user);
  absl::StatusOr<MembershipResult> SetRole(const std::string& actor, int64_t conversation_id, const std::string& user,
                                           const std::string& role);
  absl::StatusOr<MembershipResult> Leave(const std::string& actor, int64_t conversation_id);
  // The active participants, if `viewer` is one of them.
  absl::StatusOr<std::vector<Audience>> ListAudience(const std::string& viewer, int64_t conversation_id);

  // Stores `messages` in one statement (one transaction; chat.send_messages), in order, each with
  // the rules of a single send. The outer status is the statement's (e.g. Unavailable: connection
  // lost, outcome unknown; the caller may retry each item alone, sends are idempotent); the inner
  // one per message: NotFound, PermissionDenied (not a participant, blocked) or the result.
  absl::StatusOr<std::vector<absl::StatusOr<SendResult>>> SendMessages(const std::vector<NewMessage>& messages);

  struct ChangeResult {
    Message message;
    std::vector<Audience> audience;
    bool changed = false;  // false: already deleted (delete is idempotent)
  };
  absl::StatusOr<ChangeResult> EditMessage(const std::string& user_id, int64_t message_id, const std::string& content);
  absl::StatusOr<ChangeResult> DeleteMessage(const std::string& user_id, int64_t message_id);

  // before_seq >= 0: seq < before_seq, newest first then returned ascending (0 = nothing older);
  // after_seq >= 0: seq > after_seq ascending (0 = from the first message); both < 0: the newest
  // page. Shadowed messages of others are left out.
  absl::StatusOr<MessagePage> ListMessages(const std::string& viewer, int64_t conversation_id, int64_t before_seq,
                                           int64_t after_seq, int limit);

  struct ReadResult {
    int64_t last_read_seq = 0;
    int64_t unread_count = 0;
    bool moved = false;
    std::vector<Audience> audience;
  };
  // seq <= 0 or beyond the newest message: up to the newest message.
  absl::StatusOr<ReadResult> MarkRead(const std::string& viewer, int64_t conversation_id, int64_t seq);
  absl::StatusOr<UnreadCounts> GetUnreadCounts(const std::string& viewer);

  // true when the block / unblock changed something.
  absl::StatusOr<bool> Block(const std::string& blocker, const std::string& blocked);
  absl::StatusOr<bool> Unblock(const std::string& blocker, const std::string& blocked);
  absl::StatusOr<std::vector<User>> ListBlocked(const std::string& blocker);
  // The candidates sharing an active conversation with `viewer` and in no block with it, as a set.
  absl::StatusOr<std::vector<std::string>> FilterContacts(const std::string& viewer,
                                                          const std::vector<std::string>& candidates);

 private:
  sb::db::ConnectionPool& pool_;
};

}  // namespace sb::chat
