// Chat: the domain of sb-chat. Validates input, applies the moderation gate, runs the store
// operation (one transaction each; sends are group-committed, several per transaction), then tells
// the participants through the EventSink and hands offline recipients to the OfflineNotifier. No
// gRPC or libpqxx types; every method but SendMessageAsync blocks (call it on a BlockingPool
// thread). Thread-safe.
//
// Events (one JSON argument each; the shapes are the protobuf JSON of switchboard.chat.v1):
//   message:new        Message, to every participant (the sender's copy carries `moderation`);
//                      a shadowed author's message only to the author
//   message:updated    Message, to every participant
//   message:deleted    Message (content erased, isDeleted), to every participant
//   message:read       {conversationId, userId, lastReadSeq}, to the other participants
//   typing:update      {conversationId, userId, isTyping}, to the other participants
//   conversation:updated  Conversation (as the receiver sees it), on creation and on mute changes
// Event delivery is best effort after the commit: a bus failure is logged, the write stands.
#pragma once

#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/common/batcher.h"
#include "services/chat/model.h"
#include "services/chat/moderation.h"
#include "services/chat/ports.h"
#include "services/chat/store.h"

namespace sb::chat {

inline constexpr int kMaxMessageBytes = 10'000;
inline constexpr int kMaxGroupMembers = 255;
inline constexpr size_t kMaxContactCandidates = 1000;
inline constexpr int kMaxTitleBytes = 200;
inline constexpr int kMaxUrlBytes = 2048;

struct ChatOptions {
  ModerationOptions moderation;
  absl::Duration typing_ttl = absl::Seconds(5);       // a start without a stop expires after this
  absl::Duration typing_throttle = absl::Seconds(2);  // repeated starts within it are not republished
  int typing_rate = 10;                               // typing calls per second per user, then RESOURCE_EXHAUSTED
  // Where the send rate is counted (production: RedisSendRateCounter, shared by all replicas);
  // null: in this process only. Must outlive the Chat.
  SendRateCounter* send_rate_counter = nullptr;
  // How long a sender's directory facts (first seen, shadowed) are reused by the moderation gate
  // instead of read per send. SetShadowed through this instance applies at once; through another
  // replica within this time. Zero: read on every send.
  absl::Duration author_cache_ttl = absl::Seconds(30);
  // Group commit of sends (sb::ShardedBatcher): writer threads, each with its own conversations
  // (by id), storing what queued meanwhile in one statement of at most send_batch_max sends. Past
  // send_queue_max queued per writer, sends are refused with Unavailable (overload, retry).
  int send_writers = 2;
  size_t send_batch_max = 128;
  size_t send_queue_max = 5000;
};

class Chat {
 public:
  using Clock = std::function<absl::Time()>;
  // Every reference must outlive the Chat.
  Chat(ChatStore& store, EventSink& events, PresenceReader& presence, OfflineNotifier& notifier, ChatOptions options,
       Clock clock = [] { return absl::Now(); });
  ~Chat();  // StopSends()

  absl::StatusOr<User> UpsertUser(const User& user);

  absl::StatusOr<ChatStore::DirectResult> GetOrCreateDirect(const std::string& user, const std::string& other);
  absl::StatusOr<Conversation> CreateGroup(const std::string& user, const std::string& title,
                                           const std::vector<std::string>& members);
  absl::StatusOr<Conversation> GetConversation(const std::string& user, int64_t conversation_id);
  absl::StatusOr<ConversationPage> ListConversations(const std::string& user, int limit, const std::string& cursor);
  absl::StatusOr<Conversation> SetMuted(const std::string& user, int64_t conversation_id, bool muted);

  // Group membership (chat.proto has the rules); conversation:updated to everyone affected.
  absl::StatusOr<Conversation> AddParticipants(const std::string& user, int64_t conversation_id,
                                               const std::vector<std::string>& members);
  absl::StatusOr<Conversation> RemoveParticipant(const std::string& user, int64_t conversation_id,
                                                 const std::string& member);
  absl::StatusOr<Conversation> SetParticipantRole(const std::string& user, int64_t conversation_id,
                                                  const std::string& member, const std::string& role);
  absl::Status LeaveConversation(const std::string& user, int64_t conversation_id);

  struct SendInput {
    std::string user;
    int64_t conversation_id = 0;
    std::string client_message_id;
    std::string type;  // "" = "text"
    std::string content;
    std::string media_url;
    bool internal = false;  // internal callers may send "system" messages
  };
  using SendDone = std::function<void(absl::StatusOr<ChatStore::SendResult>)>;
  // Never blocks (no I/O): validates, then queues the send for group commit. `done` runs exactly
  // once: on this thread when refused at once (InvalidArgument, Unavailable: overloaded or
  // stopping), otherwise on a writer thread, which applies the moderation gate to the whole batch
  // (ResourceExhausted: rate limited), stores it, publishes message:new, then answers (NotFound,
  // PermissionDenied: not a participant or blocked, or the result). `cancelled` (optional) is
  // asked before the gate: true → Cancelled, nothing counted or stored. Sends to one conversation
  // are stored in call order.
  void SendMessageAsync(const SendInput& input, SendDone done, std::function<bool()> cancelled = nullptr);
  // SendMessageAsync, waiting for `done`.
  absl::StatusOr<ChatStore::SendResult> SendMessage(const SendInput& input);
  // Refuses new sends (Unavailable), stores the queued ones, joins the writers. Idempotent; call
  // before the store's pool goes away.
  void StopSends();
  absl::StatusOr<Message> EditMessage(const std::string& user, int64_t message_id, const std::string& content);
  absl::StatusOr<Message> DeleteMessage(const std::string& user, int64_t message_id);
  // before_seq / after_seq < 0: not given (see ChatStore::ListMessages).
  absl::StatusOr<MessagePage> ListMessages(const std::string& user, int64_t conversation_id, int64_t before_seq,
                                           int64_t after_seq, int limit);
  absl::StatusOr<ChatStore::ReadResult> MarkRead(const std::string& user, int64_t conversation_id, int64_t seq);
  absl::StatusOr<UnreadCounts> GetUnreadCounts(const std::string& user);

  // true when a typing:update was published (false: a repeated start within the throttle window).
  absl::StatusOr<bool> SetTyping(const std::string& user, int64_t conversation_id, bool typing);
  // Publishes isTyping:false for starts older than typing_ttl; call periodically. Returns how many.
  int ExpireTyping();

  absl::StatusOr<bool> Block(const std::string& user, const std::string& other);
  absl::StatusOr<bool> Unblock(const std::string& user, const std::string& other);
  absl::StatusOr<std::vector<User>> ListBlocked(const std::string& user);
  // Which of `candidates` `user` may see (presence privacy): sharing an active conversation and in
  // no block either way; `user` itself always. Request order, no duplicates; ≤ 1,000 candidates.
  absl::StatusOr<std::vector<std::string>> FilterContacts(const std::string& user,
                                                          const std::vector<std::string>& candidates);
  absl::Status SetShadowed(const std::string& user, bool shadowed, const std::string& reason);

 private:
  void Publish(const std::vector<std::string>& users, const std::string& event, const std::string& payload);
  // `user` is out of the conversation (`reason`: "removed" or "left"): its live sockets leave the
  // conversation's room on every gateway and get conversation:left.
  void TakeOutOfRoom(const std::string& user, int64_t conversation_id, std::string_view reason);
  void FillOnline(std::vector<Conversation>& conversations);
  struct PendingSend {
    ChatStore::NewMessage message;
    SendDone done;
    std::function<bool()> cancelled;
  };
  absl::StatusOr<ChatStore::NewMessage> PrepareSend(const SendInput& input);
  // On a writer thread: answers cancelled, unknown-author and rate-limited sends; moderates the
  // rest, which it returns in batch order.
  std::vector<PendingSend*> GateSends(std::vector<PendingSend>& batch);
  void CommitSends(std::vector<PendingSend>& batch);  // on a writer thread
  void AfterSends(const std::vector<absl::StatusOr<ChatStore::SendResult>>& results);
  void NotifyOffline(const std::vector<std::pair<const Message*, std::string>>& candidates);
  void PublishConversation(const Conversation& as_seen_by_creator, const std::vector<std::string>& users);
  absl::StatusOr<Conversation> AfterMembershipChange(const std::string& user,
                                                     absl::StatusOr<ChatStore::MembershipResult> result);
  void PublishTyping(const std::string& user, int64_t conversation_id, bool typing,
                     const std::vector<std::string>& others);

  ChatStore& store_;
  EventSink& events_;
  PresenceReader& presence_;
  OfflineNotifier& notifier_;
  ChatOptions options_;
  Clock clock_;
  ModerationGate gate_;

  struct TypingEntry {
    absl::Time started;         // last published start
    absl::Time expires;
    std::vector<std::string> others;
  };
  std::mutex typing_mu_;
  std::map<std::pair<int64_t, std::string>, TypingEntry> typing_;           // guarded by typing_mu_
  std::map<std::string, std::pair<absl::Time, int>> typing_rate_;         // user -> (second, calls)

  // The gate's author facts, cached (see ChatOptions::author_cache_ttl).
  absl::StatusOr<ChatStore::AuthorInfo> Author(const std::string& user);
  std::mutex authors_mu_;
  std::map<std::string, std::pair<ChatStore::AuthorInfo, absl::Time>> authors_;  // guarded; value: (facts, read at)

  // Last member: destroyed first, so its writers stop while everything they use still exists.
  std::unique_ptr<sb::ShardedBatcher<PendingSend>> sends_;
};

}  // namespace sb::chat
