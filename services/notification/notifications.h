// Notifications: the domain of sb-notification. Validates input, runs the store operation (one
// transaction each, one per chunk for NotifyMany, one per group-committed batch for Notify), then
// publishes to the recipient's devices through the EventSink and hands offline recipients to the
// PushSink. No gRPC or libpqxx types; every method but NotifyAsync blocks (call it on a
// BlockingPool thread). Thread-safe.
//
// Events (one JSON argument each, to every device of the recipient; docs/notification.md):
//   notification:new     the Notification (protobuf JSON of switchboard.notification.v1) plus
//                        "updated": true when an existing notification was collapsed into
//   notification:unread  {"count": n} after every change of the unread count
// Event delivery is best effort after the commit: a bus failure is logged, the write stands.
//
// Push: after a created or collapsed notification, when the type pushes, the user allows push,
// it is not their quiet hours (their time zone, the injected clock) and the SessionDirectory says
// they have no live session (or cannot tell), a PushRequest goes to the PushSink. Every decision
// is counted in sb_notification_push_requests_total{outcome}.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/common/batcher.h"
#include "services/notification/model.h"
#include "services/notification/ports.h"
#include "services/notification/store.h"

namespace sb::notification {

inline constexpr int kMaxManyRecipients = 10'000;
inline constexpr int kMaxDataEntries = 32;

struct NotificationOptions {
  absl::Duration collapse_window = absl::Hours(1);
  absl::Duration retention = absl::Hours(24 * 30);
  int many_chunk = 500;  // recipients per NotifyMany transaction
  // Group commit of Notify (sb::ShardedBatcher): writer threads, each with its own recipients (by
  // a hash of the id), storing what queued meanwhile in one transaction of at most
  // notify_batch_max notifications. Past notify_queue_max queued per writer, Notify is refused
  // with Unavailable (overload, retry).
  int notify_writers = 2;
  size_t notify_batch_max = 128;
  size_t notify_queue_max = 5000;
};

class Notifications {
 public:
  using Clock = std::function<absl::Time()>;
  // Every reference must outlive the object.
  Notifications(NotificationStore& store, EventSink& events, SessionDirectory& sessions, PushSink& push,
                NotificationOptions options, Clock clock = [] { return absl::Now(); });

  struct NotifyInput {
    std::string recipient_id;
    std::string type;
    Actor actor;
    std::string entity_type;
    std::string entity_id;
    std::map<std::string, std::string> data;
    std::string dedupe_key;
    std::string group_key;
    std::string deep_link;
  };
  struct NotifyResult {
    Outcome outcome = Outcome::kCreated;
    std::optional<Notification> notification;
    int64_t unread = 0;
    bool push_requested = false;
  };
  using NotifyDone = std::function<void(absl::StatusOr<NotifyResult>)>;
  // Never blocks (no I/O): validates, then queues the notification for group commit on the writer
  // of its recipient. `done` runs exactly once: on this thread when refused at once
  // (InvalidArgument; Unavailable: overloaded or stopping), otherwise on the writer thread after
  // the batch is stored and its events published (NotFound for an unknown type, InvalidArgument for
  // a title that renders empty, or the result). `cancelled` (optional) is asked on the writer before
  // storing: true → Cancelled, nothing stored. One recipient's notifications are stored in call
  // order, with the outcomes the same calls one by one would have.
  void NotifyAsync(const NotifyInput& input, NotifyDone done, std::function<bool()> cancelled = nullptr);
  // NotifyAsync, waiting for `done`.
  absl::StatusOr<NotifyResult> Notify(const NotifyInput& input);
  // Refuses new notifications (Unavailable), stores the queued ones, joins the writers. Idempotent;
  // call before the store's pool goes away.
  void StopNotifies();

  struct ManyInput {
    std::vector<std::string> recipients;
    std::string type;
    Actor actor;
    std::string entity_type;
    std::string entity_id;
    std::map<std::string, std::string> data;
    std::string dedupe_key;
    std::string deep_link;
  };
  struct ManyResult {
    int created = 0;
    int duplicates = 0;
    int disabled = 0;
    int push_requested = 0;
  };
  // On an error after some chunks committed, those stay (retry with the same dedupe_key).
  absl::StatusOr<ManyResult> NotifyMany(const ManyInput& input);

  // The typed helpers' inputs: the built-in types with their dedupe and group keys
  // (docs/notification.md). InvalidArgument for missing ids; the rest is checked by Notify.
  static absl::StatusOr<NotifyInput> NewFollowerInput(const std::string& recipient, const Actor& follower);
  static absl::StatusOr<NotifyInput> PostLikeInput(const std::string& recipient, const Actor& liker,
                                                   const std::string& post_id, const std::string& preview);
  static absl::StatusOr<NotifyInput> PostCommentInput(const std::string& recipient, const Actor& commenter,
                                                      const std::string& post_id, const std::string& comment_id,
                                                      const std::string& preview);
  static absl::StatusOr<NotifyInput> CommentReplyInput(const std::string& recipient, const Actor& replier,
                                                       const std::string& post_id, const std::string& comment_id,
                                                       const std::string& reply_id, const std::string& preview);
  static absl::StatusOr<NotifyInput> NewMessageInput(const std::string& recipient, const Actor& sender,
                                                     int64_t conversation_id, int64_t message_id,
                                                     const std::string& preview);
  static absl::StatusOr<NotifyInput> ThreadReplyInput(const std::string& recipient, const Actor& replier,
                                                      const std::string& thread_id, const std::string& reply_id,
                                                      const std::string& preview);
  static absl::StatusOr<NotifyInput> ListingInquiryInput(const std::string& recipient, const Actor& buyer,
                                                         const std::string& listing_id,
                                                         const std::string& listing_title,
                                                         const std::string& inquiry_id, const std::string& preview);
  // limit <= 0: 20; at most 100.
  absl::StatusOr<NotificationPage> List(const std::string& user, const std::string& cursor, int limit,
                                        bool unread_only);
  absl::StatusOr<NotificationStore::ReadResult> MarkRead(const std::string& user, int64_t id);
  absl::StatusOr<NotificationStore::ReadAllResult> MarkAllRead(const std::string& user);
  absl::StatusOr<int64_t> UnreadCount(const std::string& user);

  absl::StatusOr<Preferences> GetPreferences(const std::string& user);
  absl::StatusOr<Preferences> UpdatePreferences(const std::string& user,
                                                const NotificationStore::PreferencesUpdate& update);
  // The effective toggle of every registered type for `prefs`.
  absl::StatusOr<std::map<std::string, bool>> EffectiveTypes(const Preferences& prefs);

  absl::StatusOr<NotificationType> RegisterType(const NotificationType& type);
  absl::StatusOr<std::vector<NotificationType>> ListTypes();

  absl::StatusOr<int64_t> RebuildUnreadCounters(const std::string& user);
  // days <= 0: the configured retention.
  absl::StatusOr<int64_t> DeleteOld(int days);

 private:
  // Push decision for one stored notification; true when a request went to the sink.
  bool MaybePush(const NotificationType& type, const Preferences& prefs, const Notification& n,
                 std::optional<bool> live);
  // A push could follow (the type pushes, the user allows it, not quiet hours): worth asking
  // whether the recipient is live; MaybePush makes the decision.
  bool PushPossible(const NotificationType& type, const Preferences& prefs) const;
  void PublishUnread(const std::string& user, int64_t unread);
  struct PendingNotify {
    NotificationStore::NotifyInput input;
    NotifyDone done;
    std::function<bool()> cancelled;
  };
  void CommitNotifies(std::vector<PendingNotify>& batch);  // on a writer thread
  // Events of the stored results in one bus round trip, one liveness question for the push
  // candidates, then the push decisions.
  std::vector<absl::StatusOr<NotifyResult>> AfterNotifies(
      std::vector<absl::StatusOr<NotificationStore::NotifyResult>>& stored);

  NotificationStore& store_;
  EventSink& events_;
  SessionDirectory& sessions_;
  PushSink& push_;
  NotificationOptions options_;
  Clock clock_;
  // Last member: destroyed first, so its writers stop while everything they use still exists.
  std::unique_ptr<sb::ShardedBatcher<PendingNotify>> notifies_;
};

}  // namespace sb::notification
