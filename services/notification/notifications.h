// Notifications: the domain of sb-notification. Validates input, runs the store operation (one
// transaction each, or one per chunk for NotifyMany), then publishes to the recipient's devices
// through the EventSink and hands offline recipients to the PushSink. No gRPC or libpqxx types;
// every method blocks (call it on a BlockingPool thread). Thread-safe.
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

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
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
  absl::StatusOr<NotifyResult> Notify(const NotifyInput& input);

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

  // Typed helpers: the built-in types with their dedupe and group keys (docs/notification.md).
  absl::StatusOr<NotifyResult> NotifyNewFollower(const std::string& recipient, const Actor& follower);
  absl::StatusOr<NotifyResult> NotifyPostLike(const std::string& recipient, const Actor& liker,
                                              const std::string& post_id, const std::string& preview);
  absl::StatusOr<NotifyResult> NotifyPostComment(const std::string& recipient, const Actor& commenter,
                                                 const std::string& post_id, const std::string& comment_id,
                                                 const std::string& preview);
  absl::StatusOr<NotifyResult> NotifyCommentReply(const std::string& recipient, const Actor& replier,
                                                  const std::string& post_id, const std::string& comment_id,
                                                  const std::string& reply_id, const std::string& preview);
  absl::StatusOr<NotifyResult> NotifyNewMessage(const std::string& recipient, const Actor& sender,
                                                int64_t conversation_id, int64_t message_id,
                                                const std::string& preview);
  absl::StatusOr<NotifyResult> NotifyThreadReply(const std::string& recipient, const Actor& replier,
                                                 const std::string& thread_id, const std::string& reply_id,
                                                 const std::string& preview);
  absl::StatusOr<NotifyResult> NotifyListingInquiry(const std::string& recipient, const Actor& buyer,
                                                    const std::string& listing_id, const std::string& listing_title,
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
  void PublishUnread(const std::string& user, int64_t unread);

  NotificationStore& store_;
  EventSink& events_;
  SessionDirectory& sessions_;
  PushSink& push_;
  NotificationOptions options_;
  Clock clock_;
};

}  // namespace sb::notification
