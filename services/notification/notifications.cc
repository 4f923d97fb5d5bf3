#include "services/notification/notifications.h"

#include <algorithm>
#include <future>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/common/log.h"
#include "sb/metrics/metrics.h"
#include "services/notification/convert.h"
#include "services/notification/preferences.h"
#include "services/notification/templates.h"

namespace sb::notification {
namespace {

sb::metrics::CounterFamily& PushCounter() {
  static auto& family = sb::metrics::DefaultRegistry().Counter(
      "sb_notification_push_requests_total",
      "Push decisions for stored notifications: requested (handed to the push sink), online, push_disabled, "
      "quiet_hours.",
      {"outcome"});
  return family;
}

sb::metrics::CounterFamily& NotifyCounter() {
  static auto& family = sb::metrics::DefaultRegistry().Counter(
      "sb_notification_notify_total", "Notify results per recipient: created, collapsed, duplicate, disabled.",
      {"outcome"});
  return family;
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kCreated: return "created";
    case Outcome::kCollapsed: return "collapsed";
    case Outcome::kDuplicate: return "duplicate";
    case Outcome::kDisabled: return "disabled";
  }
  return "unknown";
}

absl::Status CheckUserId(const std::string& id, const std::string& field) {
  absl::Status s = sb::bus::ValidateId(id, "user id");
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
  return absl::OkStatus();
}

absl::Status CheckText(const std::string& text, const std::string& field, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", text.size(), " bytes, at most ", max_bytes));
  }
  if (!sb::bus::IsValidUtf8(text)) return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  return absl::OkStatus();
}

absl::Status CheckTypeName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && absl::ascii_islower(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (absl::ascii_islower(static_cast<unsigned char>(c)) || absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_');
  }
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("type: \"", name, "\" is not a type name ([a-z][a-z0-9_]{0,63})"));
  return absl::OkStatus();
}

absl::Status CheckActor(const Actor& a) {
  if (!a.id.empty()) {
    if (absl::Status s = CheckUserId(a.id, "actor.id"); !s.ok()) return s;
  }
  if (absl::Status s = CheckText(a.name, "actor.name", 200); !s.ok()) return s;
  return CheckText(a.avatar_url, "actor.avatar_url", 2048);
}

absl::Status CheckCommon(const std::string& type, const Actor& actor, const std::string& entity_type,
                         const std::string& entity_id, const std::map<std::string, std::string>& data,
                         const std::string& dedupe_key, const std::string& deep_link) {
  if (absl::Status s = CheckTypeName(type); !s.ok()) return s;
  if (absl::Status s = CheckActor(actor); !s.ok()) return s;
  if (absl::Status s = CheckText(entity_type, "entity_type", 64); !s.ok()) return s;
  if (absl::Status s = CheckText(entity_id, "entity_id", 128); !s.ok()) return s;
  if (absl::Status s = CheckText(dedupe_key, "dedupe_key", 256); !s.ok()) return s;
  if (absl::Status s = CheckText(deep_link, "deep_link", 2048); !s.ok()) return s;
  if (data.size() > static_cast<size_t>(kMaxDataEntries)) {
    return absl::InvalidArgumentError(absl::StrCat("data: ", data.size(), " entries, at most ", kMaxDataEntries));
  }
  for (const auto& [k, v] : data) {
    bool ok = !k.empty() && k.size() <= 64;
    for (char c : k) ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("data: key \"", k, "\" is not [A-Za-z0-9_]{1,64}"));
    if (absl::Status s = CheckText(v, absl::StrCat("data.", k), 2000); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

void LoggingPushSink::Push(const PushRequest& request) {
  count_.fetch_add(1);
  sb::log::Info("push request (push service not wired yet)", {{"recipient", request.recipient_id},
                                                               {"notification_id", request.notification.id},
                                                               {"type", request.notification.type},
                                                               {"title", request.notification.title}});
}

Notifications::Notifications(NotificationStore& store, EventSink& events, SessionDirectory& sessions, PushSink& push,
                             NotificationOptions options, Clock clock)
    : store_(store),
      events_(events),
      sessions_(sessions),
      push_(push),
      options_(options),
      clock_(std::move(clock)),
      notifies_(std::make_unique<sb::ShardedBatcher<PendingNotify>>(
          sb::BatcherOptions{.name = "notifications",
                             .shards = options.notify_writers,
                             .max_batch = options.notify_batch_max,
                             .max_queued = options.notify_queue_max},
          [this](std::vector<PendingNotify>& batch) { CommitNotifies(batch); })) {}

void Notifications::PublishUnread(const std::string& user, int64_t unread) {
  absl::Status s = events_.PublishToUser(user, "notification:unread", UnreadEventJson(unread));
  if (!s.ok()) sb::log::Warn("notification:unread not published", {{"user", user}, {"error", s.ToString()}});
}

bool Notifications::PushPossible(const NotificationType& type, const Preferences& prefs) const {
  return type.push && prefs.push_enabled && !InQuietHours(prefs, clock_());
}

bool Notifications::MaybePush(const NotificationType& type, const Preferences& prefs, const Notification& n,
                              std::optional<bool> live) {
  if (!type.push) return false;
  const char* outcome = "requested";
  if (!prefs.push_enabled) {
    outcome = "push_disabled";
  } else if (InQuietHours(prefs, clock_())) {
    outcome = "quiet_hours";
  } else if (live.value_or(false)) {
    outcome = "online";
  }
  PushCounter().Labels({outcome}).Increment();
  if (std::string_view(outcome) != "requested") return false;
  push_.Push(PushRequest{n.recipient_id, n});
  return true;
}

void Notifications::NotifyAsync(const NotifyInput& in, NotifyDone done, std::function<bool()> cancelled) {
  if (absl::Status s = CheckUserId(in.recipient_id, "recipient_id"); !s.ok()) return done(s);
  if (absl::Status s = CheckCommon(in.type, in.actor, in.entity_type, in.entity_id, in.data, in.dedupe_key, in.deep_link);
      !s.ok()) {
    return done(s);
  }
  if (absl::Status s = CheckText(in.group_key, "group_key", 256); !s.ok()) return done(s);

  NotificationStore::NotifyInput input;
  input.event.recipient_id = in.recipient_id;
  input.event.type = in.type;
  input.event.actor = in.actor;
  input.event.entity_type = in.entity_type;
  input.event.entity_id = in.entity_id;
  input.event.data = in.data;
  input.event.group_key = in.group_key;
  input.dedupe_key = in.dedupe_key;
  input.deep_link = in.deep_link;
  input.collapse_window = options_.collapse_window;
  // One writer per recipient: its notifications keep their order and collapse in that order.
  const uint64_t shard = std::hash<std::string>{}(in.recipient_id);
  PendingNotify pending{std::move(input), std::move(done), std::move(cancelled)};
  if (absl::Status queued = notifies_->Submit(shard, std::move(pending)); !queued.ok()) pending.done(queued);
}

absl::StatusOr<Notifications::NotifyResult> Notifications::Notify(const NotifyInput& input) {
  std::promise<absl::StatusOr<NotifyResult>> outcome;
  auto future = outcome.get_future();
  NotifyAsync(input, [&outcome](absl::StatusOr<NotifyResult> result) { outcome.set_value(std::move(result)); });
  return future.get();
}

void Notifications::StopNotifies() { notifies_->Stop(); }

void Notifications::CommitNotifies(std::vector<PendingNotify>& batch) {
  std::vector<PendingNotify*> live;
  for (auto& pending : batch) {
    if (pending.cancelled && pending.cancelled()) {
      pending.done(absl::CancelledError("the notification was cancelled or its deadline passed before it was stored"));
      continue;
    }
    live.push_back(&pending);
  }
  if (live.empty()) return;
  std::vector<NotificationStore::NotifyInput> inputs;
  inputs.reserve(live.size());
  for (PendingNotify* pending : live) inputs.push_back(pending->input);
  auto stored = store_.NotifyBatch(inputs);
  std::vector<absl::StatusOr<NotificationStore::NotifyResult>> results;
  if (stored.ok()) {
    results = *std::move(stored);
  } else if (absl::IsUnavailable(stored.status())) {
    // Postgres unreachable, or the connection broke while committing (outcome unknown): writing
    // the items again could double those without a dedupe key, so every caller gets what a call
    // of its own would have got (retrying with the same dedupe key is safe).
    results.assign(inputs.size(), stored.status());
  } else {
    // The batch failed as a whole and was rolled back (one item's title renders empty, repeated
    // deadlocks): each alone, in order, so one bad item cannot fail the others.
    if (live.size() > 1) {
      sb::log::Warn("batched notify failed; storing one by one",
                    {{"notifications", static_cast<int64_t>(live.size())}, {"error", stored.status().ToString()}});
    }
    for (const auto& input : inputs) results.push_back(store_.Notify(input));
  }
  std::vector<absl::StatusOr<NotifyResult>> answers = AfterNotifies(results);
  for (size_t i = 0; i < live.size(); ++i) live[i]->done(std::move(answers[i]));
}

std::vector<absl::StatusOr<Notifications::NotifyResult>> Notifications::AfterNotifies(
    std::vector<absl::StatusOr<NotificationStore::NotifyResult>>& stored) {
  std::vector<absl::StatusOr<NotifyResult>> answers;
  answers.reserve(stored.size());
  std::vector<EventSink::Delivery> deliveries;
  std::vector<size_t> push_candidates;  // indexes into stored: a pushing type, push on, not quiet
  for (size_t i = 0; i < stored.size(); ++i) {
    if (!stored[i].ok()) {
      answers.push_back(stored[i].status());
      continue;
    }
    const NotificationStore::NotifyResult& r = *stored[i];
    NotifyCounter().Labels({OutcomeName(r.outcome)}).Increment();
    NotifyResult result;
    result.outcome = r.outcome;
    result.notification = r.notification;
    result.unread = r.unread;
    answers.push_back(std::move(result));
    if (r.outcome != Outcome::kCreated && r.outcome != Outcome::kCollapsed) continue;
    const Notification& n = *r.notification;
    const bool updated = r.outcome == Outcome::kCollapsed;
    deliveries.push_back({n.recipient_id, "notification:new", NotificationEventJson(n, updated)});
    if (!updated) deliveries.push_back({n.recipient_id, "notification:unread", UnreadEventJson(r.unread)});
    if (PushPossible(r.type, r.prefs)) {
      push_candidates.push_back(i);
    } else {
      MaybePush(r.type, r.prefs, n, std::nullopt);  // counts the decision
    }
  }
  if (!deliveries.empty()) {
    if (absl::Status s = events_.PublishAll(deliveries); !s.ok()) {
      sb::log::Warn("notification events not published (the notifications are stored)",
                    {{"events", static_cast<int64_t>(deliveries.size())}, {"error", s.ToString()}});
    }
  }
  if (push_candidates.empty()) return answers;
  // One liveness question for the batch (distinct users).
  std::vector<std::string> users;
  std::map<std::string, size_t> index;
  for (size_t i : push_candidates) {
    const std::string& user = stored[i]->notification->recipient_id;
    if (index.emplace(user, users.size()).second) users.push_back(user);
  }
  auto live = sessions_.HaveLiveSessions(users);
  const bool known = live.ok() && live->size() == users.size();
  if (!known) {
    sb::log::Warn("live sessions unknown; treating the recipients as offline",
                  {{"recipients", static_cast<int64_t>(users.size())}, {"error", live.status().ToString()}});
  }
  for (size_t i : push_candidates) {
    const NotificationStore::NotifyResult& r = *stored[i];
    std::optional<bool> is_live;
    if (known) is_live = (*live)[index[r.notification->recipient_id]];
    if (MaybePush(r.type, r.prefs, *r.notification, is_live)) answers[i]->push_requested = true;
  }
  return answers;
}

absl::StatusOr<Notifications::ManyResult> Notifications::NotifyMany(const ManyInput& in) {
  if (in.recipients.empty()) return absl::InvalidArgumentError("recipient_ids: must not be empty");
  if (in.recipients.size() > static_cast<size_t>(kMaxManyRecipients)) {
    return absl::InvalidArgumentError(
        absl::StrCat("recipient_ids: ", in.recipients.size(), " recipients, at most ", kMaxManyRecipients));
  }
  if (absl::Status s = CheckCommon(in.type, in.actor, in.entity_type, in.entity_id, in.data, in.dedupe_key, in.deep_link);
      !s.ok()) {
    return s;
  }
  std::vector<std::string> recipients = in.recipients;
  for (const auto& r : recipients) {
    if (absl::Status s = CheckUserId(r, "recipient_ids"); !s.ok()) return s;
  }
  std::sort(recipients.begin(), recipients.end());  // a fixed lock order across concurrent calls
  recipients.erase(std::unique(recipients.begin(), recipients.end()), recipients.end());

  auto type = store_.GetType(in.type);
  if (!type.ok()) return type.status();
  Notification event;
  event.type = in.type;
  event.actor = in.actor;
  event.actors = in.actor.id.empty() ? std::vector<Actor>{} : std::vector<Actor>{in.actor};
  event.entity_type = in.entity_type;
  event.entity_id = in.entity_id;
  event.data = in.data;
  RenderInto(*type, in.deep_link, event);
  if (event.title.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the title of type \"", in.type, "\" renders empty: pass its template variables in data"));
  }

  ManyResult result;
  const size_t chunk = static_cast<size_t>(std::max(1, options_.many_chunk));
  for (size_t begin = 0; begin < recipients.size(); begin += chunk) {
    NotificationStore::ChunkInput input;
    input.recipients.assign(recipients.begin() + begin,
                            recipients.begin() + std::min(recipients.size(), begin + chunk));
    input.event = event;
    input.dedupe_key = in.dedupe_key;
    auto stored = store_.NotifyChunk(*type, input);
    if (!stored.ok()) {
      sb::log::Warn("NotifyMany chunk failed; earlier chunks are stored",
                    {{"created", result.created}, {"error", stored.status().ToString()}});
      return stored.status();
    }
    result.created += static_cast<int>(stored->created.size());
    result.duplicates += stored->duplicates;
    result.disabled += stored->disabled;
    NotifyCounter().Labels({"created"}).Increment(static_cast<double>(stored->created.size()));
    NotifyCounter().Labels({"duplicate"}).Increment(stored->duplicates);
    NotifyCounter().Labels({"disabled"}).Increment(stored->disabled);
    if (stored->created.empty()) continue;

    // notification:new differs per user (its id); notification:unread is shared by everyone with
    // the same count, so those go out pipelined per distinct count.
    std::vector<EventSink::Delivery> news;
    std::map<int64_t, std::vector<std::string>> by_count;
    news.reserve(stored->created.size());
    for (const auto& d : stored->created) {
      news.push_back({d.notification.recipient_id, "notification:new", NotificationEventJson(d.notification, false)});
      by_count[d.unread].push_back(d.notification.recipient_id);
    }
    if (absl::Status s = events_.PublishAll(news); !s.ok()) {
      sb::log::Warn("notification:new not published to every recipient", {{"error", s.ToString()}});
    }
    for (const auto& [count, users] : by_count) {
      absl::Status s = events_.PublishToUsers(users, "notification:unread", UnreadEventJson(count));
      if (!s.ok()) sb::log::Warn("notification:unread not published", {{"error", s.ToString()}});
    }

    // Push: only for recipients whose preferences allow it, asked about in one batch.
    std::vector<const NotificationStore::Delivered*> candidates;
    std::vector<std::string> candidate_ids;
    for (const auto& d : stored->created) {
      if (PushPossible(*type, d.prefs)) {
        candidates.push_back(&d);
        candidate_ids.push_back(d.notification.recipient_id);
      } else {
        MaybePush(*type, d.prefs, d.notification, std::nullopt);  // counts the decision
      }
    }
    if (candidates.empty()) continue;
    auto live = sessions_.HaveLiveSessions(candidate_ids);
    const bool known = live.ok() && live->size() == candidates.size();
    if (!known) sb::log::Warn("live sessions unknown; treating recipients as offline", {{"recipients", static_cast<int64_t>(candidates.size())}});
    for (size_t i = 0; i < candidates.size(); ++i) {
      std::optional<bool> is_live;
      if (known) is_live = (*live)[i];
      if (MaybePush(*type, candidates[i]->prefs, candidates[i]->notification, is_live)) ++result.push_requested;
    }
  }
  return result;
}

absl::StatusOr<Notifications::NotifyInput> Notifications::NewFollowerInput(const std::string& recipient,
                                                                             const Actor& follower) {
  if (follower.id.empty()) return absl::InvalidArgumentError("follower.id: required");
  return NotifyInput{.recipient_id = recipient, .type = "new_follower", .actor = follower, .entity_type = "user",
                     .entity_id = follower.id, .dedupe_key = absl::StrCat("new_follower:", follower.id),
                     .group_key = "new_follower"};
}

absl::StatusOr<Notifications::NotifyInput> Notifications::PostLikeInput(const std::string& recipient,
                                                                          const Actor& liker, const std::string& post_id,
                                                                          const std::string& preview) {
  if (liker.id.empty() || post_id.empty()) return absl::InvalidArgumentError("liker.id and post_id: required");
  return NotifyInput{.recipient_id = recipient, .type = "post_like", .actor = liker, .entity_type = "post",
                     .entity_id = post_id, .data = {{"preview", preview}},
                     .dedupe_key = absl::StrCat("post_like:", post_id, ":", liker.id),
                     .group_key = absl::StrCat("post_like:", post_id)};
}

absl::StatusOr<Notifications::NotifyInput> Notifications::PostCommentInput(const std::string& recipient,
                                                                             const Actor& commenter,
                                                                             const std::string& post_id,
                                                                             const std::string& comment_id,
                                                                             const std::string& preview) {
  if (commenter.id.empty() || post_id.empty() || comment_id.empty()) {
    return absl::InvalidArgumentError("commenter.id, post_id and comment_id: required");
  }
  return NotifyInput{.recipient_id = recipient, .type = "post_comment", .actor = commenter, .entity_type = "comment",
                     .entity_id = comment_id, .data = {{"postId", post_id}, {"preview", preview}},
                     .dedupe_key = absl::StrCat("post_comment:", comment_id),
                     .group_key = absl::StrCat("post_comment:", post_id)};
}

absl::StatusOr<Notifications::NotifyInput> Notifications::CommentReplyInput(
    const std::string& recipient, const Actor& replier, const std::string& post_id, const std::string& comment_id,
    const std::string& reply_id, const std::string& preview) {
  if (replier.id.empty() || comment_id.empty() || reply_id.empty()) {
    return absl::InvalidArgumentError("replier.id, comment_id and reply_id: required");
  }
  return NotifyInput{.recipient_id = recipient, .type = "comment_reply", .actor = replier, .entity_type = "comment",
                     .entity_id = reply_id,
                     .data = {{"postId", post_id}, {"commentId", comment_id}, {"preview", preview}},
                     .dedupe_key = absl::StrCat("comment_reply:", reply_id),
                     .group_key = absl::StrCat("comment_reply:", comment_id)};
}

absl::StatusOr<Notifications::NotifyInput> Notifications::NewMessageInput(const std::string& recipient,
                                                                            const Actor& sender,
                                                                            int64_t conversation_id,
                                                                            int64_t message_id,
                                                                            const std::string& preview) {
  if (conversation_id <= 0 || message_id <= 0) {
    return absl::InvalidArgumentError("conversation_id and message_id: positive ids required");
  }
  return NotifyInput{.recipient_id = recipient, .type = "new_message", .actor = sender, .entity_type = "message",
                     .entity_id = absl::StrCat(message_id),
                     .data = {{"conversationId", absl::StrCat(conversation_id)},
                          {"messageId", absl::StrCat(message_id)},
                          {"preview", preview}},
                     .dedupe_key = absl::StrCat("new_message:", message_id),
                     .group_key = absl::StrCat("conversation:", conversation_id)};
}

absl::StatusOr<Notifications::NotifyInput> Notifications::ThreadReplyInput(const std::string& recipient,
                                                                             const Actor& replier,
                                                                             const std::string& thread_id,
                                                                             const std::string& reply_id,
                                                                             const std::string& preview) {
  if (replier.id.empty() || thread_id.empty() || reply_id.empty()) {
    return absl::InvalidArgumentError("replier.id, thread_id and reply_id: required");
  }
  return NotifyInput{.recipient_id = recipient, .type = "thread_reply", .actor = replier, .entity_type = "thread_reply",
                     .entity_id = reply_id, .data = {{"threadId", thread_id}, {"preview", preview}},
                     .dedupe_key = absl::StrCat("thread_reply:", reply_id),
                     .group_key = absl::StrCat("thread_reply:", thread_id)};
}

absl::StatusOr<Notifications::NotifyInput> Notifications::ListingInquiryInput(
    const std::string& recipient, const Actor& buyer, const std::string& listing_id, const std::string& listing_title,
    const std::string& inquiry_id, const std::string& preview) {
  if (buyer.id.empty() || listing_id.empty()) return absl::InvalidArgumentError("buyer.id and listing_id: required");
  return NotifyInput{.recipient_id = recipient, .type = "listing_inquiry", .actor = buyer, .entity_type = "listing",
                     .entity_id = listing_id,
                     .data = {{"listingId", listing_id}, {"listingTitle", listing_title}, {"inquiryId", inquiry_id},
                          {"preview", preview}},
                     .dedupe_key = inquiry_id.empty() ? std::string() : absl::StrCat("listing_inquiry:", inquiry_id)};
}

absl::StatusOr<NotificationPage> Notifications::List(const std::string& user, const std::string& cursor, int limit,
                                                     bool unread_only) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (limit < 0 || limit > 100) return absl::InvalidArgumentError("limit: 1..100 (0: 20)");
  return store_.List(user, cursor, limit == 0 ? 20 : limit, unread_only);
}

absl::StatusOr<NotificationStore::ReadResult> Notifications::MarkRead(const std::string& user, int64_t id) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (id <= 0) return absl::InvalidArgumentError("notification_id: must be a positive id");
  auto result = store_.MarkRead(user, id);
  if (result.ok() && result->changed) PublishUnread(user, result->unread);
  return result;
}

absl::StatusOr<NotificationStore::ReadAllResult> Notifications::MarkAllRead(const std::string& user) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  auto result = store_.MarkAllRead(user);
  if (result.ok() && result->marked > 0) PublishUnread(user, result->unread);
  return result;
}

absl::StatusOr<int64_t> Notifications::UnreadCount(const std::string& user) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  return store_.UnreadCount(user);
}

absl::StatusOr<Preferences> Notifications::GetPreferences(const std::string& user) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  return store_.GetOrCreatePreferences(user);
}

absl::StatusOr<Preferences> Notifications::UpdatePreferences(const std::string& user,
                                                             const NotificationStore::PreferencesUpdate& update) {
  if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  if (update.time_zone) {
    if (absl::Status s = ValidateTimeZone(*update.time_zone); !s.ok()) return s;
  }
  for (const auto& [name, on] : update.types) {
    if (absl::Status s = CheckTypeName(name); !s.ok()) return s;
  }
  return store_.UpdatePreferences(user, update);
}

absl::StatusOr<std::map<std::string, bool>> Notifications::EffectiveTypes(const Preferences& prefs) {
  auto types = store_.ListTypes();
  if (!types.ok()) return types.status();
  std::map<std::string, bool> out;
  for (const auto& t : *types) out[t.name] = TypeEnabled(prefs, t);
  return out;
}

absl::StatusOr<NotificationType> Notifications::RegisterType(const NotificationType& type) {
  if (absl::Status s = CheckTypeName(type.name); !s.ok()) return s;
  if (type.title_template.empty()) return absl::InvalidArgumentError("title_template: must not be empty");
  if (absl::Status s = ValidateTemplate(type.title_template, "title_template"); !s.ok()) return s;
  if (absl::Status s = ValidateTemplate(type.body_template, "body_template"); !s.ok()) return s;
  if (absl::Status s = ValidateTemplate(type.deep_link_template, "deep_link_template"); !s.ok()) return s;
  return store_.UpsertType(type);
}

absl::StatusOr<std::vector<NotificationType>> Notifications::ListTypes() { return store_.ListTypes(); }

absl::StatusOr<int64_t> Notifications::RebuildUnreadCounters(const std::string& user) {
  if (!user.empty()) {
    if (absl::Status s = CheckUserId(user, "user_id"); !s.ok()) return s;
  }
  auto fixed = store_.RebuildUnreadCounters(user);
  if (fixed.ok() && *fixed > 0) sb::log::Warn("unread counters corrected", {{"counters", *fixed}, {"user", user}});
  if (fixed.ok() && *fixed > 0 && !user.empty()) {
    auto count = store_.UnreadCount(user);
    if (count.ok()) PublishUnread(user, *count);
  }
  return fixed;
}

absl::StatusOr<int64_t> Notifications::DeleteOld(int days) {
  if (days < 0 || days > 36500) return absl::InvalidArgumentError("older_than_days: 0..36500 (0: the configured retention)");
  const absl::Duration age = days == 0 ? options_.retention : absl::Hours(24) * days;
  auto deleted = store_.DeleteOlderThan(age);
  if (deleted.ok()) sb::log::Info("retention", {{"deleted", *deleted}, {"older_than_hours", absl::ToInt64Hours(age)}});
  return deleted;
}

}  // namespace sb::notification
