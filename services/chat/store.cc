#include "services/chat/store.h"

#include <algorithm>
#include <tuple>
#include <map>

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sb/common/status.h"
#include "sb/db/arrays.h"
#include "sb/db/transaction.h"

namespace sb::chat {
namespace {

// Epoch milliseconds of a timestamptz column, NULL stays NULL.
#define SB_MS(col) "(extract(epoch from " col ") * 1000)::bigint"

constexpr char kMessageColumns[] =
    "m.id, m.conversation_id, m.seq, m.sender_id, m.client_message_id, m.kind, m.content, m.media_url, "
    SB_MS("m.created_at") ", " SB_MS("m.edited_at") ", m.deleted_at IS NOT NULL, m.links_stripped, m.shadowed, "
    "m.moderation_reason";
constexpr int kMessageColumnCount = 14;

Message ReadMessage(const pqxx::row& r, int at = 0) {
  Message m;
  m.id = r[at + 0].as<int64_t>();
  m.conversation_id = r[at + 1].as<int64_t>();
  m.seq = r[at + 2].as<int64_t>();
  m.sender_id = r[at + 3].as<std::string>();
  m.client_message_id = r[at + 4].as<std::string>();
  m.type = r[at + 5].as<std::string>();
  m.content = r[at + 6].as<std::string>();
  m.media_url = r[at + 7].as<std::string>();
  m.created_at_ms = r[at + 8].as<int64_t>();
  if (!r[at + 9].is_null()) m.edited_at_ms = r[at + 9].as<int64_t>();
  m.deleted = r[at + 10].as<bool>();
  m.moderation.links_stripped = r[at + 11].as<bool>();
  m.moderation.shadowed = r[at + 12].as<bool>();
  m.moderation.reason = r[at + 13].as<std::string>();
  return m;
}

// OK when `user` is an active participant; NotFound when the conversation does not exist,
// PermissionDenied otherwise.
absl::Status CheckParticipant(pqxx::work& tx, const std::string& user, int64_t conversation_id) {
  auto r = tx.exec_params(
      "SELECT (SELECT count(*) FROM chat.conversations WHERE id = $1), "
      "       (SELECT count(*) FROM chat.participants WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL)",
      conversation_id, user);
  if (r[0][0].as<int64_t>() == 0) return absl::NotFoundError(absl::StrCat("conversation ", conversation_id, " not found"));
  if (r[0][1].as<int64_t>() == 0) {
    return absl::PermissionDeniedError(absl::StrCat("not a participant of conversation ", conversation_id));
  }
  return absl::OkStatus();
}

std::vector<Audience> LoadAudience(pqxx::work& tx, int64_t conversation_id) {
  std::vector<Audience> out;
  for (const auto& row : tx.exec_params(
           "SELECT user_id, muted FROM chat.participants WHERE conversation_id = $1 AND left_at IS NULL ORDER BY user_id",
           conversation_id)) {
    out.push_back(Audience{row[0].as<std::string>(), row[1].as<bool>()});
  }
  return out;
}

bool BlockedEitherWay(pqxx::work& tx, const std::string& a, const std::string& b) {
  return !tx.exec_params("SELECT 1 FROM chat.blocks WHERE (blocker_id = $1 AND blocked_id = $2) "
                         "OR (blocker_id = $2 AND blocked_id = $1) LIMIT 1",
                         a, b)
              .empty();
}

// Builds the conversations `ids` as `viewer` sees them, in the order of `ids`.
std::vector<Conversation> LoadConversations(pqxx::work& tx, const std::string& viewer, const std::vector<int64_t>& ids) {
  if (ids.empty()) return {};
  const std::string id_array = sb::db::IdArray(ids);
  std::map<int64_t, Conversation> by_id;
  auto rows = tx.exec_params(
      absl::StrCat("SELECT c.id, c.kind, c.title, c.creator_id, c.last_seq, ", SB_MS("c.last_activity_at"), ", ",
                   SB_MS("c.created_at"), ", p.unread_count, p.muted, p.last_read_seq, m.id IS NOT NULL, ",
                   kMessageColumns,
                   " FROM chat.conversations c JOIN chat.participants p ON p.conversation_id = c.id AND p.user_id = $2"
                   " LEFT JOIN chat.messages m ON m.id = c.last_message_id"
                   " WHERE c.id = ANY($1::bigint[])"),
      id_array, viewer);
  for (const auto& r : rows) {
    Conversation c;
    c.id = r[0].as<int64_t>();
    c.type = r[1].as<std::string>();
    c.title = r[2].as<std::string>();
    c.creator_id = r[3].as<std::string>();
    c.last_seq = r[4].as<int64_t>();
    c.last_activity_ms = r[5].as<int64_t>();
    c.created_at_ms = r[6].as<int64_t>();
    c.unread_count = r[7].as<int64_t>();
    c.muted = r[8].as<bool>();
    c.last_read_seq = r[9].as<int64_t>();
    if (r[10].as<bool>()) {
      Message m = ReadMessage(r, 11);
      m.is_read = m.sender_id == viewer || m.seq <= c.last_read_seq;
      if (m.sender_id != viewer) m.moderation = Moderation{};
      c.last_message = std::move(m);
    }
    by_id.emplace(c.id, std::move(c));
  }
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT p.conversation_id, p.user_id, p.role, p.last_read_seq, p.muted, ", SB_MS("p.joined_at"),
                        ", coalesce(u.username, ''), coalesce(u.display_name, ''), coalesce(u.avatar_url, '')"
                        " FROM chat.participants p LEFT JOIN chat.users u ON u.id = p.user_id"
                        " WHERE p.conversation_id = ANY($1::bigint[]) AND p.left_at IS NULL"
                        " ORDER BY p.conversation_id, p.joined_at, p.user_id"),
           id_array)) {
    auto it = by_id.find(r[0].as<int64_t>());
    if (it == by_id.end()) continue;
    Participant p;
    p.user.id = r[1].as<std::string>();
    p.role = r[2].as<std::string>();
    p.last_read_seq = r[3].as<int64_t>();
    p.muted = r[4].as<bool>();
    p.joined_at_ms = r[5].as<int64_t>();
    p.user.username = r[6].as<std::string>();
    p.user.display_name = r[7].as<std::string>();
    p.user.avatar_url = r[8].as<std::string>();
    it->second.participants.push_back(std::move(p));
  }
  std::vector<Conversation> out;
  for (int64_t id : ids) {
    auto it = by_id.find(id);
    if (it != by_id.end()) out.push_back(std::move(it->second));
  }
  return out;
}

void EnsureUser(pqxx::work& tx, const std::string& user_id) {
  tx.exec_params0("INSERT INTO chat.users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", user_id);
}

}  // namespace

namespace {

using SendResults = std::vector<absl::StatusOr<ChatStore::SendResult>>;

// chat.send_messages (migrations/0003) runs chat.send_message (0002: lock, idempotency, block
// check, seq, insert, unread and read positions, audience) per item on the server and returns the
// stored rows (expanded as "m" for kMessageColumns): one round trip for any number of sends.
absl::StatusOr<SendResults> StoreSends(pqxx::transaction_base& tx, const std::vector<ChatStore::NewMessage>& messages) {
  std::vector<int64_t> conversations;
  std::vector<std::string> senders, client_ids, kinds, contents, media_urls, links_stripped, shadowed, reasons;
  for (const ChatStore::NewMessage& m : messages) {
    conversations.push_back(m.conversation_id);
    senders.push_back(m.sender_id);
    client_ids.push_back(m.client_message_id);
    kinds.push_back(m.type);
    contents.push_back(m.content);
    media_urls.push_back(m.media_url);
    links_stripped.push_back(m.moderation.links_stripped ? "t" : "f");
    shadowed.push_back(m.moderation.shadowed ? "t" : "f");
    reasons.push_back(m.moderation.reason);
  }
  // Prepared once per connection (libpqxx registers it on first use; defining it again with the
  // same text is a no-op): on the hot path of every send, parsing and planning the statement cost
  // Postgres as much as a small batch's execution.
  static const std::string kSql =
      absl::StrCat("SELECT r.ord, r.outcome, r.created, r.audience_ids, r.audience_muted, ", kMessageColumns,
                   " FROM chat.send_messages($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
                   " $7::boolean[], $8::boolean[], $9::text[]) r, LATERAL (SELECT (r.msg).*) m ORDER BY r.ord");
  constexpr const char* kStatement = "sb_chat_send_messages";
  tx.conn().prepare(kStatement, kSql);
  auto rows = tx.exec_prepared(
      kStatement, sb::db::IdArray(conversations), sb::db::TextArray(senders), sb::db::TextArray(client_ids),
      sb::db::TextArray(kinds), sb::db::TextArray(contents), sb::db::TextArray(media_urls),
      sb::db::TextArray(links_stripped), sb::db::TextArray(shadowed), sb::db::TextArray(reasons));
  if (rows.size() != messages.size()) {
    return absl::InternalError(absl::StrCat("chat.send_messages: ", rows.size(), " rows for ", messages.size(), " sends"));
  }
  SendResults results;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const ChatStore::NewMessage& in = messages[i];
    const std::string outcome = row[1].as<std::string>();
    if (outcome == "not_found") {
      results.push_back(absl::NotFoundError(absl::StrCat("conversation ", in.conversation_id, " not found")));
    } else if (outcome == "not_participant") {
      results.push_back(
          absl::PermissionDeniedError(absl::StrCat("not a participant of conversation ", in.conversation_id)));
    } else if (outcome == "blocked") {
      results.push_back(absl::PermissionDeniedError("cannot send: one of you blocked the other"));
    } else if (outcome != "ok") {
      results.push_back(absl::InternalError(absl::StrCat("chat.send_message: unexpected outcome ", outcome)));
    } else {
      ChatStore::SendResult result;
      result.created = row[2].as<bool>();
      result.message = ReadMessage(row, 5);
      const std::vector<std::string> ids = sb::db::ParseArray(row[3]);
      const std::vector<std::string> muted = sb::db::ParseArray(row[4]);
      if (ids.size() != muted.size()) return absl::InternalError("chat.send_message: audience arrays differ in length");
      for (size_t k = 0; k < ids.size(); ++k) result.audience.push_back(Audience{ids[k], muted[k] == "t"});
      results.push_back(std::move(result));
    }
  }
  return results;
}

// A system message about a membership change, stored in the change's transaction (so both or
// neither happen) with `actor`, still a participant, as its sender. `content` is a JSON object
// (docs/chat.md: system messages) that clients render in their own words.
absl::StatusOr<ChatStore::SendResult> StoreSystemMessage(pqxx::work& tx, int64_t conversation_id,
                                                         const std::string& actor, boost::json::object content) {
  // Unique per change: the conversation's next sequence number cannot repeat while the row is locked.
  const int64_t next_seq =
      tx.exec_params1("SELECT last_seq + 1 FROM chat.conversations WHERE id = $1", conversation_id)[0].as<int64_t>();
  ChatStore::NewMessage message{.conversation_id = conversation_id,
                                .sender_id = actor,
                                .client_message_id = absl::StrCat("system:", next_seq),
                                .type = "system",
                                .content = boost::json::serialize(content)};
  SB_ASSIGN_OR_RETURN(SendResults results, StoreSends(tx, {message}));
  return std::move(results[0]);
}

}  // namespace

absl::StatusOr<User> ChatStore::UpsertUser(const User& user) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<User> {
    auto r = tx.exec_params1(
        "INSERT INTO chat.users AS u (id, username, display_name, avatar_url) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (id) DO UPDATE SET "
        "  username = CASE WHEN $2::text = '' THEN u.username ELSE $2 END, "
        "  display_name = CASE WHEN $3::text = '' THEN u.display_name ELSE $3 END, "
        "  avatar_url = CASE WHEN $4::text = '' THEN u.avatar_url ELSE $4 END, "
        "  updated_at = now() "
        "RETURNING id, username, display_name, avatar_url",
        user.id, user.username, user.display_name, user.avatar_url);
    return User{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(), false};
  });
}

absl::StatusOr<ChatStore::AuthorInfo> ChatStore::GetAuthor(const std::string& user_id) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<AuthorInfo> {
    EnsureUser(tx, user_id);
    auto r = tx.exec_params1(absl::StrCat("SELECT ", SB_MS("first_seen_at"), ", shadowed FROM chat.users WHERE id = $1"),
                             user_id);
    return AuthorInfo{absl::FromUnixMillis(r[0].as<int64_t>()), r[1].as<bool>()};
  });
}

absl::Status ChatStore::SetShadowed(const std::string& user_id, bool shadowed, const std::string& reason) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    EnsureUser(tx, user_id);
    tx.exec_params0("UPDATE chat.users SET shadowed = $2, shadow_reason = $3, updated_at = now() WHERE id = $1", user_id,
                    shadowed, reason);
  });
}

absl::StatusOr<ChatStore::DirectResult> ChatStore::FindOrCreateDirect(const std::string& user_id,
                                                                      const std::string& other_user_id) {
  if (user_id == other_user_id) return absl::InvalidArgumentError("other_user_id: cannot start a conversation with yourself");
  const std::string& low = std::min(user_id, other_user_id);
  const std::string& high = std::max(user_id, other_user_id);
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<DirectResult> {
    if (BlockedEitherWay(tx, user_id, other_user_id)) {
      return absl::PermissionDeniedError("cannot start a conversation: one of you blocked the other");
    }
    DirectResult result;
    int64_t id = 0;
    // ON CONFLICT waits for a concurrent creator of the same pair; if it commits we read its row.
    auto inserted = tx.exec_params(
        "INSERT INTO chat.conversations (kind, creator_id, direct_low, direct_high) VALUES ('direct', $1, $2, $3) "
        "ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING RETURNING id",
        user_id, low, high);
    if (!inserted.empty()) {
      id = inserted[0][0].as<int64_t>();
      result.created = true;
      tx.exec_params0("INSERT INTO chat.participants (conversation_id, user_id) VALUES ($1, $2), ($1, $3)", id, low, high);
    } else {
      id = tx.exec_params1("SELECT id FROM chat.conversations WHERE kind = 'direct' AND direct_low = $1 AND direct_high = $2",
                           low, high)[0]
               .as<int64_t>();
    }
    auto loaded = LoadConversations(tx, user_id, {id});
    if (loaded.empty()) return absl::InternalError("direct conversation vanished");
    result.conversation = std::move(loaded[0]);
    return result;
  });
}

absl::StatusOr<Conversation> ChatStore::CreateGroup(const std::string& creator_id, const std::string& title,
                                                    const std::vector<std::string>& member_ids) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<Conversation> {
    for (const auto& member : member_ids) {
      if (member != creator_id && BlockedEitherWay(tx, creator_id, member)) {
        return absl::PermissionDeniedError(absl::StrCat("cannot add ", member, ": one of you blocked the other"));
      }
    }
    int64_t id = tx.exec_params1("INSERT INTO chat.conversations (kind, title, creator_id) VALUES ('group', $1, $2) RETURNING id",
                                 title, creator_id)[0]
                     .as<int64_t>();
    tx.exec_params0("INSERT INTO chat.participants (conversation_id, user_id, role) VALUES ($1, $2, 'admin')", id,
                    creator_id);
    for (const auto& member : member_ids) {
      if (member == creator_id) continue;
      tx.exec_params0(
          "INSERT INTO chat.participants (conversation_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", id, member);
    }
    auto loaded = LoadConversations(tx, creator_id, {id});
    if (loaded.empty()) return absl::InternalError("group vanished");
    return std::move(loaded[0]);
  });
}

absl::StatusOr<Conversation> ChatStore::GetConversation(const std::string& viewer, int64_t conversation_id) {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::StatusOr<Conversation> {
        if (absl::Status s = CheckParticipant(tx, viewer, conversation_id); !s.ok()) return s;
        auto loaded = LoadConversations(tx, viewer, {conversation_id});
        if (loaded.empty()) return absl::NotFoundError(absl::StrCat("conversation ", conversation_id, " not found"));
        return std::move(loaded[0]);
      },
      {.read_only = true});
}

absl::StatusOr<ConversationPage> ChatStore::ListConversations(const std::string& viewer, int limit,
                                                              const std::string& cursor) {
  // Cursor: "<last_activity micros>_<id>" of the last conversation of the previous page.
  int64_t cursor_us = 0, cursor_id = 0;
  if (!cursor.empty()) {
    std::vector<std::string> parts = absl::StrSplit(cursor, '_');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &cursor_us) || !absl::SimpleAtoi(parts[1], &cursor_id)) {
      return absl::InvalidArgumentError("cursor: not a cursor returned by ListConversations");
    }
  }
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::StatusOr<ConversationPage> {
        auto rows = tx.exec_params(
            "SELECT c.id, (extract(epoch from c.last_activity_at) * 1000000)::bigint AS us "
            "FROM chat.participants p JOIN chat.conversations c ON c.id = p.conversation_id "
            "WHERE p.user_id = $1 AND p.left_at IS NULL "
            "  AND ($2::bigint = 0 OR ((extract(epoch from c.last_activity_at) * 1000000)::bigint, c.id) < ($3::bigint, $2::bigint)) "
            "ORDER BY us DESC, c.id DESC LIMIT $4::int",
            viewer, cursor_id, cursor_us, limit + 1);
        ConversationPage page;
        std::vector<int64_t> ids;
        for (int i = 0; i < static_cast<int>(rows.size()) && i < limit; ++i) ids.push_back(rows[i][0].as<int64_t>());
        if (static_cast<int>(rows.size()) > limit) {
          page.next_cursor = absl::StrCat(rows[limit - 1][1].as<int64_t>(), "_", rows[limit - 1][0].as<int64_t>());
        }
        page.conversations = LoadConversations(tx, viewer, ids);
        return page;
      },
      {.isolation = sb::db::IsolationLevel::kRepeatableRead, .read_only = true});
}

absl::Status ChatStore::SetMuted(const std::string& viewer, int64_t conversation_id, bool muted) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (absl::Status s = CheckParticipant(tx, viewer, conversation_id); !s.ok()) return s;
    tx.exec_params0("UPDATE chat.participants SET muted = $3 WHERE conversation_id = $1 AND user_id = $2",
                    conversation_id, viewer, muted);
    return absl::OkStatus();
  });
}

namespace {

// Locks a group for a membership change (changes of one group are serialized, so "the last admin"
// is decided on current data) and returns the actor's role. NotFound, FailedPrecondition (not a
// group), PermissionDenied (actor not active, or `need_admin` and not an admin).
absl::StatusOr<std::string> LockGroup(pqxx::work& tx, const std::string& actor, int64_t conversation_id,
                                      bool need_admin) {
  auto conv = tx.exec_params("SELECT kind FROM chat.conversations WHERE id = $1 FOR UPDATE", conversation_id);
  if (conv.empty()) return absl::NotFoundError(absl::StrCat("conversation ", conversation_id, " not found"));
  if (conv[0][0].as<std::string>() != "group") {
    return absl::FailedPreconditionError("membership can only change in group conversations");
  }
  auto p = tx.exec_params(
      "SELECT role FROM chat.participants WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL",
      conversation_id, actor);
  if (p.empty()) return absl::PermissionDeniedError(absl::StrCat("not a participant of conversation ", conversation_id));
  std::string role = p[0][0].as<std::string>();
  if (need_admin && role != "admin") return absl::PermissionDeniedError("only group admins can do this");
  return role;
}

int64_t ActiveAdmins(pqxx::work& tx, int64_t conversation_id) {
  return tx.exec_params1("SELECT count(*) FROM chat.participants WHERE conversation_id = $1 AND role = 'admin' "
                         "AND left_at IS NULL",
                         conversation_id)[0]
      .as<int64_t>();
}

std::vector<std::string> ActiveIds(pqxx::work& tx, int64_t conversation_id) {
  std::vector<std::string> out;
  for (const auto& a : LoadAudience(tx, conversation_id)) out.push_back(a.user_id);
  return out;
}

}  // namespace

absl::StatusOr<ChatStore::MembershipResult> ChatStore::AddParticipants(const std::string& actor,
                                                                       int64_t conversation_id,
                                                                       const std::vector<std::string>& users) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<MembershipResult> {
    auto role = LockGroup(tx, actor, conversation_id, true);
    if (!role.ok()) return role.status();
    for (const auto& user : users) {
      if (user != actor && BlockedEitherWay(tx, actor, user)) {
        return absl::PermissionDeniedError(absl::StrCat("cannot add ", user, ": one of you blocked the other"));
      }
    }
    const int64_t last_seq =
        tx.exec_params1("SELECT last_seq FROM chat.conversations WHERE id = $1", conversation_id)[0].as<int64_t>();
    for (const auto& user : users) {
      // New members start with everything so far read: history is there to scroll, not unread.
      tx.exec_params0(
          "INSERT INTO chat.participants (conversation_id, user_id, last_read_seq) VALUES ($1, $2, $3) "
          "ON CONFLICT (conversation_id, user_id) DO UPDATE SET left_at = NULL, joined_at = now(), role = 'member', "
          "  last_read_seq = $3, unread_count = 0 WHERE chat.participants.left_at IS NOT NULL",
          conversation_id, user, last_seq);
    }
    if (ActiveIds(tx, conversation_id).size() > 256) {
      return absl::InvalidArgumentError("participant_ids: a group has at most 256 participants");
    }
    MembershipResult result;
    boost::json::array added(users.begin(), users.end());
    SB_ASSIGN_OR_RETURN(result.system_message,
                        StoreSystemMessage(tx, conversation_id, actor,
                                           {{"event", "participants_added"}, {"actorId", actor}, {"userIds", added}}));
    result.affected = ActiveIds(tx, conversation_id);
    result.conversation = std::move(LoadConversations(tx, actor, {conversation_id})[0]);
    return result;
  });
}

absl::StatusOr<ChatStore::MembershipResult> ChatStore::RemoveParticipant(const std::string& actor,
                                                                         int64_t conversation_id,
                                                                         const std::string& user) {
  if (user == actor) return absl::InvalidArgumentError("participant_id: use LeaveConversation to leave");
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<MembershipResult> {
    auto role = LockGroup(tx, actor, conversation_id, true);
    if (!role.ok()) return role.status();
    auto removed = tx.exec_params(
        "UPDATE chat.participants SET left_at = now() WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL "
        "RETURNING 1",
        conversation_id, user);
    if (removed.empty()) return absl::NotFoundError(absl::StrCat(user, " is not a participant"));
    MembershipResult result;
    SB_ASSIGN_OR_RETURN(result.system_message,
                        StoreSystemMessage(tx, conversation_id, actor,
                                           {{"event", "participant_removed"}, {"actorId", actor}, {"userId", user}}));
    result.affected = ActiveIds(tx, conversation_id);
    result.affected.push_back(user);
    result.conversation = std::move(LoadConversations(tx, actor, {conversation_id})[0]);
    return result;
  });
}

absl::StatusOr<ChatStore::MembershipResult> ChatStore::SetRole(const std::string& actor, int64_t conversation_id,
                                                               const std::string& user, const std::string& role) {
  if (role != "member" && role != "admin") return absl::InvalidArgumentError("role: member or admin");
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<MembershipResult> {
    auto actor_role = LockGroup(tx, actor, conversation_id, true);
    if (!actor_role.ok()) return actor_role.status();
    auto current = tx.exec_params(
        "SELECT role FROM chat.participants WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL",
        conversation_id, user);
    if (current.empty()) return absl::NotFoundError(absl::StrCat(user, " is not a participant"));
    if (current[0][0].as<std::string>() == "admin" && role == "member" && ActiveAdmins(tx, conversation_id) <= 1) {
      return absl::FailedPreconditionError("a group needs an admin: promote someone else first");
    }
    tx.exec_params0("UPDATE chat.participants SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
                    conversation_id, user, role);
    MembershipResult result;
    result.affected = ActiveIds(tx, conversation_id);
    result.conversation = std::move(LoadConversations(tx, actor, {conversation_id})[0]);
    return result;
  });
}

absl::StatusOr<ChatStore::MembershipResult> ChatStore::Leave(const std::string& actor, int64_t conversation_id) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<MembershipResult> {
    auto role = LockGroup(tx, actor, conversation_id, false);
    if (!role.ok()) return role.status();
    MembershipResult result;
    // Sent while the leaver is still a participant; the audience is everyone but them (below).
    SB_ASSIGN_OR_RETURN(result.system_message,
                        StoreSystemMessage(tx, conversation_id, actor, {{"event", "participant_left"}, {"userId", actor}}));
    tx.exec_params0("UPDATE chat.participants SET left_at = now(), role = 'member' WHERE conversation_id = $1 AND user_id = $2",
                    conversation_id, actor);
    if (*role == "admin" && ActiveAdmins(tx, conversation_id) == 0) {
      tx.exec_params0(
          "UPDATE chat.participants SET role = 'admin' WHERE conversation_id = $1 AND user_id = ("
          "  SELECT user_id FROM chat.participants WHERE conversation_id = $1 AND left_at IS NULL "
          "  ORDER BY joined_at, user_id LIMIT 1)",
          conversation_id);
    }
    auto& audience = result.system_message->audience;
    audience.erase(std::remove_if(audience.begin(), audience.end(), [&](const Audience& a) { return a.user_id == actor; }),
                   audience.end());
    result.affected = ActiveIds(tx, conversation_id);
    result.affected.push_back(actor);
    return result;
  });
}

absl::StatusOr<std::vector<Audience>> ChatStore::ListAudience(const std::string& viewer, int64_t conversation_id) {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<Audience>> {
        if (absl::Status s = CheckParticipant(tx, viewer, conversation_id); !s.ok()) return s;
        return LoadAudience(tx, conversation_id);
      },
      {.read_only = true});
}


absl::StatusOr<SendResults> ChatStore::SendMessages(const std::vector<NewMessage>& messages) {
  // Autocommitted: a batch costs one round trip and one commit.
  return sb::db::RunStatement(pool_, [&](pqxx::nontransaction& tx) { return StoreSends(tx, messages); });
}

absl::StatusOr<ChatStore::ChangeResult> ChatStore::EditMessage(const std::string& user_id, int64_t message_id,
                                                               const std::string& content) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    auto found = tx.exec_params(absl::StrCat("SELECT ", kMessageColumns, " FROM chat.messages m WHERE m.id = $1 FOR UPDATE"),
                                message_id);
    if (found.empty()) return absl::NotFoundError(absl::StrCat("message ", message_id, " not found"));
    Message m = ReadMessage(found[0]);
    if (absl::Status s = CheckParticipant(tx, user_id, m.conversation_id); !s.ok()) return s;
    if (m.sender_id != user_id) return absl::PermissionDeniedError("only the author can edit a message");
    if (m.deleted) return absl::FailedPreconditionError("the message was deleted");
    if (m.type == "system") return absl::PermissionDeniedError("system messages cannot be edited");
    auto row = tx.exec_params1(absl::StrCat("UPDATE chat.messages m SET content = $2, edited_at = now() WHERE m.id = $1 RETURNING ",
                                            kMessageColumns),
                               message_id, content);
    ChangeResult result{ReadMessage(row), LoadAudience(tx, m.conversation_id), true};
    return result;
  });
}

absl::StatusOr<ChatStore::ChangeResult> ChatStore::DeleteMessage(const std::string& user_id, int64_t message_id) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<ChangeResult> {
    auto found = tx.exec_params(absl::StrCat("SELECT ", kMessageColumns, " FROM chat.messages m WHERE m.id = $1 FOR UPDATE"),
                                message_id);
    if (found.empty()) return absl::NotFoundError(absl::StrCat("message ", message_id, " not found"));
    Message m = ReadMessage(found[0]);
    if (absl::Status s = CheckParticipant(tx, user_id, m.conversation_id); !s.ok()) return s;
    if (m.sender_id != user_id) return absl::PermissionDeniedError("only the author can delete a message");
    ChangeResult result;
    if (m.deleted) {
      result.message = m;
      result.changed = false;
      result.audience = LoadAudience(tx, m.conversation_id);
      return result;
    }
    // The content is erased, not hidden: deleted text must not survive in the database.
    auto row = tx.exec_params1(
        absl::StrCat("UPDATE chat.messages m SET content = '', media_url = '', deleted_at = now() WHERE m.id = $1 RETURNING ",
                     kMessageColumns),
        message_id);
    if (!m.moderation.shadowed) {
      tx.exec_params0(
          "UPDATE chat.participants SET unread_count = GREATEST(unread_count - 1, 0) "
          "WHERE conversation_id = $1 AND user_id <> $2 AND left_at IS NULL AND last_read_seq < $3",
          m.conversation_id, m.sender_id, m.seq);
    }
    result.message = ReadMessage(row);
    result.changed = true;
    result.audience = LoadAudience(tx, m.conversation_id);
    return result;
  });
}

absl::StatusOr<MessagePage> ChatStore::ListMessages(const std::string& viewer, int64_t conversation_id,
                                                    int64_t before_seq, int64_t after_seq, int limit) {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::StatusOr<MessagePage> {
        if (absl::Status s = CheckParticipant(tx, viewer, conversation_id); !s.ok()) return s;
        const std::string visible = " AND (NOT m.shadowed OR m.sender_id = $2)";
        pqxx::result rows;
        if (after_seq >= 0) {
          rows = tx.exec_params(absl::StrCat("SELECT ", kMessageColumns,
                                             " FROM chat.messages m WHERE m.conversation_id = $1 AND m.seq > $3", visible,
                                             " ORDER BY m.seq ASC LIMIT $4"),
                                conversation_id, viewer, after_seq, limit + 1);
        } else {
          const int64_t upper = before_seq >= 0 ? before_seq : INT64_MAX;
          rows = tx.exec_params(absl::StrCat("SELECT ", kMessageColumns,
                                             " FROM chat.messages m WHERE m.conversation_id = $1 AND m.seq < $3", visible,
                                             " ORDER BY m.seq DESC LIMIT $4"),
                                conversation_id, viewer, upper, limit + 1);
        }
        MessagePage page;
        page.has_more = static_cast<int>(rows.size()) > limit;
        for (int i = 0; i < static_cast<int>(rows.size()) && i < limit; ++i) {
          Message m = ReadMessage(rows[i]);
          if (m.sender_id != viewer) m.moderation = Moderation{};
          page.messages.push_back(std::move(m));
        }
        if (after_seq < 0) std::reverse(page.messages.begin(), page.messages.end());
        return page;
      },
      {.read_only = true});
}

absl::StatusOr<ChatStore::ReadResult> ChatStore::MarkRead(const std::string& viewer, int64_t conversation_id,
                                                          int64_t seq) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<ReadResult> {
    if (absl::Status s = CheckParticipant(tx, viewer, conversation_id); !s.ok()) return s;
    // Lock the reader's row first: a concurrent send's +1 then lands before or after our recount.
    auto p = tx.exec_params1(
        "SELECT last_read_seq, unread_count FROM chat.participants WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE",
        conversation_id, viewer);
    const int64_t current = p[0].as<int64_t>();
    const int64_t last_seq =
        tx.exec_params1("SELECT last_seq FROM chat.conversations WHERE id = $1", conversation_id)[0].as<int64_t>();
    const int64_t target = (seq <= 0 || seq > last_seq) ? last_seq : seq;
    ReadResult result;
    if (target <= current) {
      result.last_read_seq = current;
      result.unread_count = p[1].as<int64_t>();
      result.moved = false;
      return result;
    }
    // Counting only the still-unread tail (index on (conversation_id, seq)).
    const int64_t unread = tx.exec_params1(
                                 "SELECT count(*) FROM chat.messages WHERE conversation_id = $1 AND seq > $2 "
                                 "AND sender_id <> $3 AND NOT shadowed AND deleted_at IS NULL",
                                 conversation_id, target, viewer)[0]
                               .as<int64_t>();
    tx.exec_params0("UPDATE chat.participants SET last_read_seq = $3, unread_count = $4 WHERE conversation_id = $1 AND user_id = $2",
                    conversation_id, viewer, target, unread);
    result.last_read_seq = target;
    result.unread_count = unread;
    result.moved = true;
    result.audience = LoadAudience(tx, conversation_id);
    return result;
  });
}

absl::StatusOr<UnreadCounts> ChatStore::GetUnreadCounts(const std::string& viewer) {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::StatusOr<UnreadCounts> {
        UnreadCounts counts;
        for (const auto& r : tx.exec_params(
                 "SELECT conversation_id, unread_count FROM chat.participants "
                 "WHERE user_id = $1 AND left_at IS NULL AND unread_count > 0 ORDER BY conversation_id",
                 viewer)) {
          counts.per_conversation.emplace_back(r[0].as<int64_t>(), r[1].as<int64_t>());
          counts.total += r[1].as<int64_t>();
        }
        return counts;
      },
      {.read_only = true});
}

absl::StatusOr<bool> ChatStore::Block(const std::string& blocker, const std::string& blocked) {
  if (blocker == blocked) return absl::InvalidArgumentError("blocked_user_id: cannot block yourself");
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> bool {
    return !tx.exec_params("INSERT INTO chat.blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                           blocker, blocked)
                .empty();
  });
}

absl::StatusOr<bool> ChatStore::Unblock(const std::string& blocker, const std::string& blocked) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> bool {
    return !tx.exec_params("DELETE FROM chat.blocks WHERE blocker_id = $1 AND blocked_id = $2 RETURNING 1", blocker, blocked)
                .empty();
  });
}

absl::StatusOr<std::vector<User>> ChatStore::ListBlocked(const std::string& blocker) {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> std::vector<User> {
        std::vector<User> out;
        for (const auto& r : tx.exec_params(
                 "SELECT b.blocked_id, coalesce(u.username, ''), coalesce(u.display_name, ''), coalesce(u.avatar_url, '') "
                 "FROM chat.blocks b LEFT JOIN chat.users u ON u.id = b.blocked_id WHERE b.blocker_id = $1 "
                 "ORDER BY b.created_at, b.blocked_id",
                 blocker)) {
          out.push_back(User{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                             r[3].as<std::string>(), false});
        }
        return out;
      },
      {.read_only = true});
}

absl::StatusOr<std::vector<std::string>> ChatStore::FilterContacts(const std::string& viewer,
                                                                   const std::vector<std::string>& candidates) {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> std::vector<std::string> {
        std::vector<std::string> out;
        // One round trip: the viewer's active conversations joined with the candidates' active
        // participations (both sides use the partial index participants_active_by_user).
        for (const auto& r : tx.exec_params(
                 "SELECT DISTINCT o.user_id FROM chat.participants me "
                 "JOIN chat.participants o ON o.conversation_id = me.conversation_id AND o.left_at IS NULL "
                 "WHERE me.user_id = $1 AND me.left_at IS NULL AND o.user_id = ANY($2::text[]) "
                 "AND NOT EXISTS (SELECT 1 FROM chat.blocks b WHERE (b.blocker_id = $1 AND b.blocked_id = o.user_id) "
                 "                OR (b.blocker_id = o.user_id AND b.blocked_id = $1))",
                 viewer, sb::db::TextArray(candidates))) {
          out.push_back(r[0].as<std::string>());
        }
        return out;
      },
      {.read_only = true});
}

}  // namespace sb::chat
