// NotificationStore: every read and write of the `notification` schema (libpqxx behind sb::db).
// Methods block: call them on a BlockingPool thread. Thread-safe.
//
// Consistency rules kept here (docs/notification.md has the reasoning):
//  - counters.unread equals the recipient's unread rows. Every change of read state or of the set
//    of unread rows (insert, mark read, mark all read, retention) changes the counter in the same
//    transaction, always after the rows ("rows, then counter" lock order), by exactly the number
//    of rows it changed. Reading the count never scans rows.
//  - Dedupe: dedupe_keys (recipient, key) is the gate, inserted ON CONFLICT DO NOTHING first, so
//    concurrent duplicates wait for the first and then see the conflict. Keys of events collapsed
//    into another row are kept too.
//  - Collapse: a transaction advisory lock on (recipient, group key) serializes events of one
//    group; the target row is locked FOR UPDATE and must still be unread, so a concurrent mark-read
//    makes the event a new row instead.
// Errors: NotFound (unknown type / notification of another user), InvalidArgument,
// FailedPrecondition (built-in type), and the sb::db mapping of database failures.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/db/pool.h"
#include "services/notification/model.h"

namespace sb::notification {

class NotificationStore {
 public:
  explicit NotificationStore(sb::db::ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<NotificationType> GetType(const std::string& name);
  absl::StatusOr<std::vector<NotificationType>> ListTypes();
  // Creates or updates a run-time type; FailedPrecondition when `type.name` is built in.
  absl::StatusOr<NotificationType> UpsertType(const NotificationType& type);

  struct NotifyInput {
    Notification event;  // recipient_id, type, actor, entity_type/id, data, group_key
    std::string dedupe_key;
    std::string deep_link;  // overrides the type's deep-link template when set
    absl::Duration collapse_window = absl::Hours(1);
  };
  struct NotifyResult {
    Outcome outcome = Outcome::kCreated;
    std::optional<Notification> notification;
    int64_t unread = 0;
    NotificationType type;
    Preferences prefs;
  };
  // One transaction: type + preferences, dedupe gate, collapse or insert + counter. NotFound for
  // an unknown type.
  absl::StatusOr<NotifyResult> Notify(const NotifyInput& input);
  // Group commit of Notify: the inputs in one transaction with a fixed number of statements (type
  // + preferences of every item in one query, one multi-row dedupe gate, one advisory-lock
  // statement and one FOR UPDATE lookup for every group, one multi-row INSERT, one multi-row
  // UPDATE, one dedupe link, one counter upsert). Each item gets the outcome, notification and
  // unread count that Notify on the inputs one by one, in order, would give it (items of one group
  // collapse into each other; a key repeated in the batch is a duplicate of its first use). Per
  // item: NotFound for an unknown type. A non-OK return means nothing was stored (e.g. a new
  // notification whose title renders empty, a lost connection): retry the items alone with Notify.
  // Every input's collapse_window must be the same (the first one's applies).
  absl::StatusOr<std::vector<absl::StatusOr<NotifyResult>>> NotifyBatch(const std::vector<NotifyInput>& inputs);

  struct ChunkInput {
    std::vector<std::string> recipients;  // sorted, unique, valid
    Notification event;                   // rendered; recipient_id ignored
    std::string dedupe_key;
  };
  struct Delivered {
    Notification notification;
    int64_t unread = 0;
    Preferences prefs;
  };
  struct ChunkResult {
    std::vector<Delivered> created;
    int duplicates = 0;
    int disabled = 0;
  };
  // NotifyMany's unit: one transaction for the chunk (preferences in one query, one multi-row
  // INSERT, counters in one upsert). `type` must exist (the caller loaded it).
  absl::StatusOr<ChunkResult> NotifyChunk(const NotificationType& type, const ChunkInput& input);

  // Latest activity (updated_at) first; `cursor` is a previous page's next_cursor or "".
  absl::StatusOr<NotificationPage> List(const std::string& user, const std::string& cursor, int limit,
                                        bool unread_only);
  struct ReadResult {
    bool changed = false;
    int64_t unread = 0;
  };
  absl::StatusOr<ReadResult> MarkRead(const std::string& user, int64_t id);  // NotFound if not theirs
  struct ReadAllResult {
    int64_t marked = 0;
    int64_t unread = 0;
  };
  absl::StatusOr<ReadAllResult> MarkAllRead(const std::string& user);
  absl::StatusOr<int64_t> UnreadCount(const std::string& user);

  absl::StatusOr<Preferences> GetOrCreatePreferences(const std::string& user);
  struct PreferencesUpdate {
    std::optional<bool> push_enabled;
    std::optional<bool> email_enabled;
    std::map<std::string, bool> types;
    std::optional<QuietHours> quiet_hours;
    std::optional<std::string> time_zone;
  };
  // InvalidArgument for a type that is not registered.
  absl::StatusOr<Preferences> UpdatePreferences(const std::string& user, const PreferencesUpdate& update);

  // Recomputes counters from the rows (one user, or everyone when `user` is empty) while holding
  // the counters' locks, so concurrent writers cannot slip between count and write. Returns how
  // many counters changed.
  absl::StatusOr<int64_t> RebuildUnreadCounters(const std::string& user);
  // Deletes notifications not updated for `age` (and dedupe keys older than that whose notification
  // is gone), in batches of
  // `batch` rows per transaction, decrementing counters for unread ones. Returns rows deleted.
  absl::StatusOr<int64_t> DeleteOlderThan(absl::Duration age, int batch = 5000);

 private:
  sb::db::ConnectionPool& pool_;
};

}  // namespace sb::notification
