#include "services/chat/chat.h"

#include <algorithm>
#include <future>

#include <boost/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/common/log.h"
#include "sb/common/status.h"
#include "services/chat/convert.h"

namespace sb::chat {
namespace {

namespace pb = ::switchboard::chat::v1;

absl::Status CheckUserId(const std::string& id, const char* field) {
  absl::Status s = sb::bus::ValidateId(id, "user id");
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
  return absl::OkStatus();
}

absl::Status CheckConversationId(int64_t id) {
  if (id <= 0) return absl::InvalidArgumentError("conversation_id: must be a positive id");
  return absl::OkStatus();
}

absl::Status CheckText(const std::string& text, const char* field, size_t max_bytes, bool required) {
  if (required && text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", text.size(), " bytes, at most ", max_bytes));
  }
  if (!sb::bus::IsValidUtf8(text)) return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  return absl::OkStatus();
}

std::vector<std::string> Others(const std::vector<Audience>& audience, const std::string& user) {
  std::vector<std::string> out;
  for (const auto& a : audience) {
    if (a.user_id != user) out.push_back(a.user_id);
  }
  return out;
}

std::string MessageJson(const Message& m, bool for_sender) {
  pb::Message p;
  ToProto(m, for_sender, &p);
  return ToJson(p);
}

}  // namespace

void LoggingNotifier::NewMessage(const std::string& recipient, const Message& message) {
  count_.fetch_add(1);
  sb::log::Info("new_message notification (notification service not wired yet)",
                {{"recipient", recipient},
                 {"conversation_id", message.conversation_id},
                 {"message_id", message.id},
                 {"sender", message.sender_id}});
}

Chat::Chat(ChatStore& store, EventSink& events, PresenceReader& presence, OfflineNotifier& notifier, ChatOptions options,
           Clock clock)
    : store_(store),
      events_(events),
      presence_(presence),
      notifier_(notifier),
      options_(options),
      clock_(std::move(clock)),
      gate_(options.moderation, options.send_rate_counter),
      sends_(std::make_unique<sb::ShardedBatcher<PendingSend>>(
          sb::BatcherOptions{.name = "chat sends",
                             .shards = options.send_writers,
                             .max_batch = options.send_batch_max,
                             .max_queued = options.send_queue_max},
          [this](std::vector<PendingSend>& batch) { CommitSends(batch); })) {}

Chat::~Chat() { StopSends(); }

void Chat::StopSends() { sends_->Stop(); }

void Chat::Publish(const std::vector<std::string>& users, const std::string& event, const std::string& payload) {
  if (users.empty()) return;
  absl::Status s = events_.PublishToUsers(users, event, payload);
  if (!s.ok()) {
    sb::log::Warn("event not published (the write is committed; clients resync over REST)",
                  {{"event", event}, {"error", s.ToString()}});
  }
}

void Chat::TakeOutOfRoom(const std::string& user, int64_t conversation_id, std::string_view reason) {
  // The room is the gateway's ("conversation:{id}", joined with join:conversation); without this a
  // removed member's open sockets would keep getting what is published to it until they reconnect.
  const std::string id = std::to_string(conversation_id);
  boost::json::object left{{"conversationId", id},
                           {"reason", reason},
                           {"message", reason == "removed" ? "you were removed from this conversation"
                                                           : "you left this conversation"}};
  boost::json::object control{{"room", "conversation:" + id}, {"event", "conversation:left"}, {"payload", std::move(left)}};
  Publish({user}, sb::bus::kControlLeaveRoom, boost::json::serialize(control));
}

void Chat::FillOnline(std::vector<Conversation>& conversations) {
  std::vector<std::string> users;
  for (const auto& c : conversations) {
    for (const auto& p : c.participants) users.push_back(p.user.id);
  }
  if (users.empty()) return;
  auto online = presence_.AreOnline(users);
  if (!online.ok() || online->size() != users.size()) {
    // Unknown presence is shown as offline rather than failing the whole list.
    sb::log::Warn("presence unavailable", {{"error", online.ok() ? "size mismatch" : online.status().ToString()}});
    return;
  }
  size_t i = 0;
  for (auto& c : conversations) {
    for (auto& p : c.participants) p.user.is_online = (*online)[i++];
  }
}

absl::StatusOr<User> Chat::UpsertUser(const User& user) {
  if (absl::Status s = CheckUserId(user.id, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckText(user.username, "username", 128, false); !s.ok()) return s;
  if (absl::Status s = CheckText(user.display_name, "display_name", 256, false); !s.ok()) return s;
  if (absl::Status s = CheckText(user.avatar_url, "avatar_url", kMaxUrlBytes, false); !s.ok()) return s;
  return store_.UpsertUser(user);
}

void Chat::PublishConversation(const Conversation& conversation, const std::vector<std::string>& users) {
  // Each receiver's view differs only in per-user fields (unread, mute, read position), which are
  // fresh (zero / false) for a new conversation, and in `participant` for direct ones.
  for (const auto& user : users) {
    pb::Conversation p;
    Conversation view = conversation;
    view.unread_count = 0;
    view.muted = false;
    view.last_read_seq = 0;
    ToProto(view, user, &p);
    Publish({user}, "conversation:updated", ToJson(p));
  }
}

absl::StatusOr<ChatStore::DirectResult> Chat::GetOrCreateDirect(const std::string& user, const std::string& other) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckUserId(other, "other_user_id"); !s.ok()) return s;
  auto result = store_.FindOrCreateDirect(user, other);
  if (!result.ok()) return result.status();
  if (result->created) PublishConversation(result->conversation, {user, other});
  std::vector<Conversation> one{result->conversation};
  FillOnline(one);
  result->conversation = std::move(one[0]);
  return result;
}

absl::StatusOr<Conversation> Chat::CreateGroup(const std::string& user, const std::string& title,
                                               const std::vector<std::string>& members) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckText(title, "title", kMaxTitleBytes, true); !s.ok()) return s;
  if (members.empty() || static_cast<int>(members.size()) > kMaxGroupMembers) {
    return absl::InvalidArgumentError(absl::StrCat("participant_ids: 1..", kMaxGroupMembers, " users required"));
  }
  for (const auto& m : members) {
    if (absl::Status s = CheckUserId(m, "participant_ids"); !s.ok()) return s;
  }
  auto conversation = store_.CreateGroup(user, title, members);
  if (!conversation.ok()) return conversation.status();
  std::vector<std::string> everyone;
  for (const auto& p : conversation->participants) everyone.push_back(p.user.id);
  PublishConversation(*conversation, everyone);
  std::vector<Conversation> one{*std::move(conversation)};
  FillOnline(one);
  return std::move(one[0]);
}

absl::StatusOr<Conversation> Chat::GetConversation(const std::string& user, int64_t conversation_id) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  auto conversation = store_.GetConversation(user, conversation_id);
  if (!conversation.ok()) return conversation.status();
  std::vector<Conversation> one{*std::move(conversation)};
  FillOnline(one);
  return std::move(one[0]);
}

absl::StatusOr<ConversationPage> Chat::ListConversations(const std::string& user, int limit, const std::string& cursor) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (limit == 0) limit = 20;
  if (limit < 1 || limit > 100) return absl::InvalidArgumentError("limit: 1..100");
  auto page = store_.ListConversations(user, limit, cursor);
  if (!page.ok()) return page.status();
  FillOnline(page->conversations);
  return page;
}

absl::StatusOr<Conversation> Chat::SetMuted(const std::string& user, int64_t conversation_id, bool muted) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  if (absl::Status s = store_.SetMuted(user, conversation_id, muted); !s.ok()) return s;
  auto conversation = GetConversation(user, conversation_id);
  if (conversation.ok()) {
    pb::Conversation p;
    ToProto(*conversation, user, &p);
    Publish({user}, "conversation:updated", ToJson(p));  // the user's other devices
  }
  return conversation;
}

absl::StatusOr<Conversation> Chat::AfterMembershipChange(const std::string& user,
                                                         absl::StatusOr<ChatStore::MembershipResult> result) {
  if (!result.ok()) return result.status();
  // Per-user fields differ, but a membership change is about the participant list: everyone gets
  // the shared part (their own unread/mute come from the list or GetConversation).
  PublishConversation(result->conversation, result->affected);
  if (result->system_message) AfterSends({*std::move(result->system_message)});
  std::vector<Conversation> one{std::move(result->conversation)};
  FillOnline(one);
  return std::move(one[0]);
}

absl::StatusOr<Conversation> Chat::AddParticipants(const std::string& user, int64_t conversation_id,
                                                   const std::vector<std::string>& members) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  if (members.empty() || static_cast<int>(members.size()) > kMaxGroupMembers) {
    return absl::InvalidArgumentError(absl::StrCat("participant_ids: 1..", kMaxGroupMembers, " users required"));
  }
  for (const auto& m : members) {
    if (absl::Status s = CheckUserId(m, "participant_ids"); !s.ok()) return s;
  }
  return AfterMembershipChange(user, store_.AddParticipants(user, conversation_id, members));
}

absl::StatusOr<Conversation> Chat::RemoveParticipant(const std::string& user, int64_t conversation_id,
                                                     const std::string& member) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  if (absl::Status s = CheckUserId(member, "participant_id"); !s.ok()) return s;
  auto removed = AfterMembershipChange(user, store_.RemoveParticipant(user, conversation_id, member));
  if (removed.ok()) TakeOutOfRoom(member, conversation_id, member == user ? "left" : "removed");
  return removed;
}

absl::StatusOr<Conversation> Chat::SetParticipantRole(const std::string& user, int64_t conversation_id,
                                                      const std::string& member, const std::string& role) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  if (absl::Status s = CheckUserId(member, "participant_id"); !s.ok()) return s;
  return AfterMembershipChange(user, store_.SetRole(user, conversation_id, member, role));
}

absl::Status Chat::LeaveConversation(const std::string& user, int64_t conversation_id) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  auto result = store_.Leave(user, conversation_id);
  if (!result.ok()) return result.status();
  if (result->system_message) AfterSends({*std::move(result->system_message)});
  std::vector<std::string> remaining = result->affected;
  remaining.pop_back();  // the leaver, last
  if (!remaining.empty()) {
    auto conversation = store_.GetConversation(remaining.front(), conversation_id);
    if (conversation.ok()) PublishConversation(*conversation, remaining);
  }
  boost::json::object gone{{"conversationId", std::to_string(conversation_id)}, {"userId", user}, {"left", true}};
  Publish({user}, "conversation:updated", boost::json::serialize(gone));
  TakeOutOfRoom(user, conversation_id, "left");
  return absl::OkStatus();
}

absl::StatusOr<ChatStore::NewMessage> Chat::PrepareSend(const SendInput& in) {
  if (absl::Status s = CheckUserId(in.user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(in.conversation_id); !s.ok()) return s;
  if (in.client_message_id.empty() || in.client_message_id.size() > 128 || !sb::bus::IsValidUtf8(in.client_message_id)) {
    return absl::InvalidArgumentError("client_message_id: 1..128 bytes of UTF-8 required (the idempotency key)");
  }
  const std::string type = in.type.empty() ? "text" : in.type;
  if (type == "text") {
    if (absl::Status s = CheckText(in.content, "content", kMaxMessageBytes, true); !s.ok()) return s;
    if (!in.media_url.empty()) return absl::InvalidArgumentError("media_url: only for image messages");
  } else if (type == "image") {
    if (absl::Status s = CheckText(in.content, "content", kMaxMessageBytes, false); !s.ok()) return s;
    if (absl::Status s = CheckText(in.media_url, "media_url", kMaxUrlBytes, true); !s.ok()) return s;
    if (!absl::StartsWith(in.media_url, "https://") && !absl::StartsWith(in.media_url, "http://")) {
      return absl::InvalidArgumentError("media_url: must be an http(s) URL");
    }
  } else if (type == "system") {
    if (!in.internal) return absl::InvalidArgumentError("type: system messages are sent by the server only");
    if (absl::Status s = CheckText(in.content, "content", kMaxMessageBytes, true); !s.ok()) return s;
  } else {
    return absl::InvalidArgumentError("type: one of text, image");
  }

  ChatStore::NewMessage message{.conversation_id = in.conversation_id,
                                .sender_id = in.user,
                                .client_message_id = in.client_message_id,
                                .type = type,
                                .content = in.content,
                                .media_url = in.media_url};
  return message;
}

void Chat::SendMessageAsync(const SendInput& input, SendDone done, std::function<bool()> cancelled) {
  auto message = PrepareSend(input);
  if (!message.ok()) return done(message.status());
  const auto shard = static_cast<uint64_t>(message->conversation_id);
  PendingSend pending{*std::move(message), std::move(done), std::move(cancelled)};
  if (absl::Status queued = sends_->Submit(shard, std::move(pending)); !queued.ok()) pending.done(queued);
}

absl::StatusOr<ChatStore::SendResult> Chat::SendMessage(const SendInput& input) {
  std::promise<absl::StatusOr<ChatStore::SendResult>> outcome;
  auto future = outcome.get_future();
  SendMessageAsync(input, [&outcome](absl::StatusOr<ChatStore::SendResult> result) { outcome.set_value(std::move(result)); });
  return future.get();
}

std::vector<Chat::PendingSend*> Chat::GateSends(std::vector<PendingSend>& batch) {
  std::vector<PendingSend*> candidates;  // batch order: sends to one conversation keep their order
  std::vector<size_t> moderated;         // indexes into candidates, one per attempt
  std::vector<ModerationGate::Attempt> attempts;
  for (auto& pending : batch) {
    if (pending.cancelled && pending.cancelled()) {
      pending.done(absl::CancelledError("the send was cancelled or its deadline passed before it was stored"));
      continue;
    }
    if (pending.message.type != "system") {  // internal system messages are not moderated
      auto author = Author(pending.message.sender_id);
      if (!author.ok()) {
        pending.done(author.status());
        continue;
      }
      moderated.push_back(candidates.size());
      attempts.push_back({pending.message.sender_id, author->first_seen, author->shadowed});
    }
    candidates.push_back(&pending);
  }
  std::vector<bool> refused(candidates.size(), false);
  if (!attempts.empty()) {
    // One shared-counter round trip for the batch; each attempt counts, in order.
    const std::vector<GateDecision> decisions = gate_.EvaluateMany(attempts, clock_());
    for (size_t k = 0; k < attempts.size(); ++k) {
      PendingSend& pending = *candidates[moderated[k]];
      if (!decisions[k].status.ok()) {
        pending.done(decisions[k].status);
        refused[moderated[k]] = true;
      } else {
        pending.message.content = gate_.Apply(decisions[k], pending.message.content, pending.message.moderation);
      }
    }
  }
  std::vector<PendingSend*> live;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!refused[i]) live.push_back(candidates[i]);
  }
  return live;
}

void Chat::CommitSends(std::vector<PendingSend>& batch) {
  std::vector<PendingSend*> live = GateSends(batch);
  if (live.empty()) return;
  std::vector<ChatStore::NewMessage> messages;
  for (PendingSend* pending : live) messages.push_back(pending->message);
  auto stored = store_.SendMessages(messages);
  std::vector<absl::StatusOr<ChatStore::SendResult>> results;
  if (stored.ok()) {
    results = *std::move(stored);
  } else if (live.size() == 1) {
    results.push_back(stored.status());
  } else {
    // The whole statement failed (e.g. one item hit an error, a deadlock, a lost connection): each
    // alone, so one bad send cannot fail the others. Sends are idempotent, so a batch that did
    // commit before its connection dropped is found again, not written twice.
    sb::log::Warn("batched send failed; sending one by one", {{"sends", live.size()}, {"error", stored.status().ToString()}});
    for (const auto& message : messages) {
      auto one = store_.SendMessages({message});
      results.push_back(one.ok() ? std::move((*one)[0]) : absl::StatusOr<ChatStore::SendResult>(one.status()));
    }
  }
  AfterSends(results);
  for (size_t i = 0; i < live.size(); ++i) live[i]->done(std::move(results[i]));
}

void Chat::AfterSends(const std::vector<absl::StatusOr<ChatStore::SendResult>>& results) {
  // Every new message of the batch in one bus round trip: the others' copy and the sender's own
  // (other devices; it carries moderation); a shadowed author's message to the author only. A
  // retry (not created) was published the first time.
  std::vector<EventSink::Delivery> deliveries;
  std::vector<std::pair<const Message*, std::string>> offline_candidates;  // (message, recipient)
  for (const auto& result : results) {
    if (!result.ok() || !result->created) continue;
    const Message& m = result->message;
    if (!m.moderation.shadowed) {
      deliveries.push_back({Others(result->audience, m.sender_id), "message:new", MessageJson(m, false)});
      for (const auto& a : result->audience) {
        // System messages (membership changes) are no reason to notify anyone.
        if (a.user_id != m.sender_id && !a.muted && m.type != "system") offline_candidates.emplace_back(&m, a.user_id);
      }
    }
    // The own copy only to a sender still in the audience (not to someone who just left).
    const bool sender_in_audience = std::any_of(result->audience.begin(), result->audience.end(),
                                                [&](const Audience& a) { return a.user_id == m.sender_id; });
    if (sender_in_audience) deliveries.push_back({{m.sender_id}, "message:new", MessageJson(m, true)});
  }
  if (deliveries.empty()) return;
  if (absl::Status published = events_.PublishBatch(deliveries); !published.ok()) {
    sb::log::Warn("events not published (the writes are committed; clients resync over REST)",
                  {{"event", "message:new"}, {"messages", deliveries.size()}, {"error", published.ToString()}});
  }
  NotifyOffline(offline_candidates);
}

void Chat::NotifyOffline(const std::vector<std::pair<const Message*, std::string>>& candidates) {
  if (candidates.empty()) return;
  std::vector<std::string> users;
  absl::flat_hash_set<std::string> seen;
  for (const auto& [message, user] : candidates) {
    if (seen.insert(user).second) users.push_back(user);
  }
  auto online = presence_.AreOnline(users);
  if (!online.ok() || online->size() != users.size()) {
    sb::log::Warn("presence unavailable; no offline notifications for these messages", {{"messages", candidates.size()}});
    return;
  }
  absl::flat_hash_set<std::string> offline;
  for (size_t i = 0; i < users.size(); ++i) {
    if (!(*online)[i]) offline.insert(users[i]);
  }
  for (const auto& [message, user] : candidates) {
    if (offline.contains(user)) notifier_.NewMessage(user, *message);
  }
}

absl::StatusOr<Message> Chat::EditMessage(const std::string& user, int64_t message_id, const std::string& content) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (message_id <= 0) return absl::InvalidArgumentError("message_id: must be a positive id");
  if (absl::Status s = CheckText(content, "content", kMaxMessageBytes, true); !s.ok()) return s;
  // Edits go through the same link rules as sends (no rate count: an edit is not a new message).
  std::string text = content;
  auto author = store_.GetAuthor(user);
  if (!author.ok()) return author.status();
  const absl::Time now = clock_();
  GateDecision decision;
  if (options_.moderation.new_account_age > absl::ZeroDuration() &&
      now - author->first_seen < options_.moderation.new_account_age) {
    decision.strip_links = true;
  }
  if (decision.strip_links) text = StripLinks(content).text;
  auto result = store_.EditMessage(user, message_id, text);
  if (!result.ok()) return result.status();
  const Message& m = result->message;
  if (m.moderation.shadowed) {
    Publish({user}, "message:updated", MessageJson(m, true));
  } else {
    Publish(Others(result->audience, user), "message:updated", MessageJson(m, false));
    Publish({user}, "message:updated", MessageJson(m, true));
  }
  return m;
}

absl::StatusOr<Message> Chat::DeleteMessage(const std::string& user, int64_t message_id) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (message_id <= 0) return absl::InvalidArgumentError("message_id: must be a positive id");
  auto result = store_.DeleteMessage(user, message_id);
  if (!result.ok()) return result.status();
  const Message& m = result->message;
  if (result->changed) {
    if (m.moderation.shadowed) {
      Publish({user}, "message:deleted", MessageJson(m, true));
    } else {
      Publish(Others(result->audience, user), "message:deleted", MessageJson(m, false));
      Publish({user}, "message:deleted", MessageJson(m, true));
    }
  }
  return m;
}

absl::StatusOr<MessagePage> Chat::ListMessages(const std::string& user, int64_t conversation_id, int64_t before_seq,
                                               int64_t after_seq, int limit) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  if (before_seq >= 0 && after_seq >= 0) return absl::InvalidArgumentError("before and after: give at most one");
  if (limit == 0) limit = 50;
  if (limit < 1 || limit > 100) return absl::InvalidArgumentError("limit: 1..100");
  return store_.ListMessages(user, conversation_id, before_seq, after_seq, limit);
}

absl::StatusOr<ChatStore::ReadResult> Chat::MarkRead(const std::string& user, int64_t conversation_id, int64_t seq) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  if (seq < 0) return absl::InvalidArgumentError("seq: must not be negative");
  auto result = store_.MarkRead(user, conversation_id, seq);
  if (!result.ok() || !result->moved) return result;
  boost::json::object payload{{"conversationId", std::to_string(conversation_id)},
                              {"userId", user},
                              {"lastReadSeq", std::to_string(result->last_read_seq)}};
  Publish(Others(result->audience, user), "message:read", boost::json::serialize(payload));
  // The reader's other devices learn the new position and their unread count for the conversation
  // (badges); other participants never see it.
  payload["unreadCount"] = result->unread_count;
  Publish({user}, "message:read", boost::json::serialize(payload));
  return result;
}

absl::StatusOr<UnreadCounts> Chat::GetUnreadCounts(const std::string& user) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  return store_.GetUnreadCounts(user);
}

void Chat::PublishTyping(const std::string& user, int64_t conversation_id, bool typing,
                         const std::vector<std::string>& others) {
  boost::json::object payload{
      {"conversationId", std::to_string(conversation_id)}, {"userId", user}, {"isTyping", typing}};
  if (typing) payload["expiresInMs"] = absl::ToInt64Milliseconds(options_.typing_ttl);
  Publish(others, "typing:update", boost::json::serialize(payload));
}

absl::StatusOr<bool> Chat::SetTyping(const std::string& user, int64_t conversation_id, bool typing) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckConversationId(conversation_id); !s.ok()) return s;
  const absl::Time now = clock_();
  {
    std::lock_guard lock(typing_mu_);
    const absl::Time second = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
    auto& [window, calls] = typing_rate_[user];
    if (window != second) {
      window = second;
      calls = 0;
    }
    if (++calls > options_.typing_rate) {
      return absl::ResourceExhaustedError(absl::StrCat("typing: at most ", options_.typing_rate, " per second"));
    }
    if (typing_rate_.size() > 100'000) typing_rate_.clear();  // bounded memory; only loosens the limit briefly
    auto it = typing_.find({conversation_id, user});
    if (typing && it != typing_.end() && now - it->second.started < options_.typing_throttle) {
      it->second.expires = now + options_.typing_ttl;  // still typing: extend without republishing
      return false;
    }
  }
  auto audience = store_.ListAudience(user, conversation_id);
  if (!audience.ok()) return audience.status();
  std::vector<std::string> others = Others(*audience, user);
  {
    std::lock_guard lock(typing_mu_);
    if (typing) {
      typing_[{conversation_id, user}] = TypingEntry{now, now + options_.typing_ttl, others};
    } else {
      typing_.erase({conversation_id, user});
    }
  }
  PublishTyping(user, conversation_id, typing, others);
  return true;
}

int Chat::ExpireTyping() {
  const absl::Time now = clock_();
  std::vector<std::pair<std::pair<int64_t, std::string>, std::vector<std::string>>> expired;
  {
    std::lock_guard lock(typing_mu_);
    for (auto it = typing_.begin(); it != typing_.end();) {
      if (it->second.expires <= now) {
        expired.emplace_back(it->first, std::move(it->second.others));
        it = typing_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& [key, others] : expired) PublishTyping(key.second, key.first, false, others);
  return static_cast<int>(expired.size());
}

absl::StatusOr<bool> Chat::Block(const std::string& user, const std::string& other) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckUserId(other, "blocked_user_id"); !s.ok()) return s;
  return store_.Block(user, other);
}

absl::StatusOr<bool> Chat::Unblock(const std::string& user, const std::string& other) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckUserId(other, "blocked_user_id"); !s.ok()) return s;
  return store_.Unblock(user, other);
}

absl::StatusOr<std::vector<User>> Chat::ListBlocked(const std::string& user) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  return store_.ListBlocked(user);
}

absl::StatusOr<std::vector<std::string>> Chat::FilterContacts(const std::string& user,
                                                              const std::vector<std::string>& candidates) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (candidates.size() > kMaxContactCandidates) {
    return absl::InvalidArgumentError(absl::StrCat("candidate_ids: at most ", kMaxContactCandidates, " ids"));
  }
  for (const auto& candidate : candidates) {
    if (absl::Status s = CheckUserId(candidate, "candidate_ids"); !s.ok()) return s;
  }
  SB_ASSIGN_OR_RETURN(std::vector<std::string> found, store_.FilterContacts(user, candidates));
  absl::flat_hash_set<std::string> allowed(found.begin(), found.end());
  allowed.insert(user);
  std::vector<std::string> out;
  absl::flat_hash_set<std::string> seen;
  for (const auto& candidate : candidates) {
    if (allowed.contains(candidate) && seen.insert(candidate).second) out.push_back(candidate);
  }
  return out;
}

absl::Status Chat::SetShadowed(const std::string& user, bool shadowed, const std::string& reason) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (absl::Status s = CheckText(reason, "reason", 256, false); !s.ok()) return s;
  SB_RETURN_IF_ERROR(store_.SetShadowed(user, shadowed, reason));
  std::lock_guard lock(authors_mu_);
  authors_.erase(user);
  return absl::OkStatus();
}

absl::StatusOr<ChatStore::AuthorInfo> Chat::Author(const std::string& user) {
  const absl::Time now = clock_();
  {
    std::lock_guard lock(authors_mu_);
    auto it = authors_.find(user);
    if (it != authors_.end() && now - it->second.second < options_.author_cache_ttl) return it->second.first;
  }
  SB_ASSIGN_OR_RETURN(ChatStore::AuthorInfo info, store_.GetAuthor(user));
  std::lock_guard lock(authors_mu_);
  if (authors_.size() >= 100'000) authors_.clear();  // bounded; only costs re-reads
  authors_[user] = {info, now};
  return info;
}

}  // namespace sb::chat
