// The notification domain and store against a real, private Postgres (sb::testing::PostgresServer)
// with fake event sink, session directory and push sink; plus BusEventSink against a real Redis.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/bus/publisher.h"
#include "sb/common/status.h"
#include "sb/db/migrations.h"
#include "sb/db/transaction.h"
#include "sb/redis/client.h"
#include "sb/redis/subscriber.h"
#include "sb/testing/servers.h"
#include "services/notification/notifications.h"
#include "services/notification/server.h"

namespace {

using namespace sb::notification;
namespace json = boost::json;

// What the service's typed RPCs do (a typed input, then Notify), without gRPC.
absl::StatusOr<Notifications::NotifyResult> NotifyTyped(Notifications& notifications,
                                                        absl::StatusOr<Notifications::NotifyInput> input) {
  if (!input.ok()) return input.status();
  return notifications.Notify(*input);
}

struct Published {
  std::string user;
  std::string event;
  std::string payload;
};

class RecordingSink : public EventSink {
 public:
  absl::Status PublishToUser(const std::string& user, const std::string& event, const std::string& payload) override {
    std::lock_guard lock(mu);
    events.push_back({user, event, payload});
    return absl::OkStatus();
  }
  absl::Status PublishToUsers(const std::vector<std::string>& users, const std::string& event,
                              const std::string& payload) override {
    for (const auto& u : users) SB_RETURN_IF_ERROR(PublishToUser(u, event, payload));
    return absl::OkStatus();
  }
  std::vector<json::object> To(const std::string& user, const std::string& event) {
    std::lock_guard lock(mu);
    std::vector<json::object> out;
    for (const auto& e : events) {
      if (e.user == user && e.event == event) out.push_back(json::parse(e.payload).as_object());
    }
    return out;
  }
  size_t Size() {
    std::lock_guard lock(mu);
    return events.size();
  }
  std::mutex mu;
  std::vector<Published> events;
};

class FakeSessions : public SessionDirectory {
 public:
  absl::StatusOr<std::vector<bool>> HaveLiveSessions(const std::vector<std::string>& users) override {
    std::lock_guard lock(mu);
    ++calls;
    std::vector<bool> out;
    for (const auto& u : users) out.push_back(live.count(u) > 0);
    return out;
  }
  std::mutex mu;
  std::set<std::string> live;
  int calls = 0;
};

class RecordingPush : public PushSink {
 public:
  void Push(const PushRequest& r) override {
    std::lock_guard lock(mu);
    recipients.push_back(r.recipient_id);
  }
  size_t Count(const std::string& user) {
    std::lock_guard lock(mu);
    return std::count(recipients.begin(), recipients.end(), user);
  }
  size_t Total() {
    std::lock_guard lock(mu);
    return recipients.size();
  }
  std::mutex mu;
  std::vector<std::string> recipients;
};

sb::testing::PostgresServer& Postgres() {
  static auto server = [] {
    auto s = sb::testing::PostgresServer::Start();
    if (!s.ok()) FAIL("postgres: " << s.status().ToString());
    return std::move(*s);
  }();
  return *server;
}

// A fresh database with the schema, and the domain over fakes. The clock is fixed at
// 2024-01-15 12:00 UTC unless a test moves it.
struct Fixture {
  Fixture() {
    static int n = 0;
    const std::string name = absl::StrCat("notif_", ++n);
    REQUIRE(Postgres().CreateDatabase(name).ok());
    pool = std::make_unique<sb::db::ConnectionPool>(sb::db::PoolOptions{.url = Postgres().url(name), .max_connections = 12});
    auto applied = sb::db::ApplyMigrations(*pool, "notification", SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR);
    REQUIRE(applied.ok());
    store = std::make_unique<NotificationStore>(*pool);
    NotificationOptions options;
    options.many_chunk = 500;
    notifications = std::make_unique<Notifications>(*store, sink, sessions, push, options, [this] {
      std::lock_guard lock(clock_mu);
      return now;
    });
  }

  void SetNow(absl::Time t) {
    std::lock_guard lock(clock_mu);
    now = t;
  }

  int64_t Scalar(const std::string& sql) {
    auto v = sb::db::RunInTransaction(*pool, [&](pqxx::work& tx) { return tx.exec1(sql)[0].as<int64_t>(); });
    REQUIRE(v.ok());
    return *v;
  }
  void Exec(const std::string& sql) {
    REQUIRE(sb::db::RunInTransaction(*pool, [&](pqxx::work& tx) { tx.exec0(sql); }).ok());
  }
  int64_t UnreadRows(const std::string& user) {
    return Scalar(absl::StrCat("SELECT count(*) FROM notification.notifications WHERE recipient_id = '", user,
                               "' AND read_at IS NULL"));
  }
  int64_t Counter(const std::string& user) {
    return Scalar(absl::StrCat("SELECT coalesce((SELECT unread FROM notification.counters WHERE recipient_id = '", user,
                               "'), 0)"));
  }

  Notifications::NotifyInput Like(const std::string& recipient, const std::string& liker, const std::string& post) {
    return {.recipient_id = recipient, .type = "post_like", .actor = Actor{liker, liker + "-name", ""},
            .entity_type = "post", .entity_id = post, .data = {{"preview", "my post"}},
            .dedupe_key = absl::StrCat("like:", post, ":", liker), .group_key = absl::StrCat("post_like:", post)};
  }

  std::unique_ptr<sb::db::ConnectionPool> pool;
  std::unique_ptr<NotificationStore> store;
  RecordingSink sink;
  FakeSessions sessions;
  RecordingPush push;
  std::mutex clock_mu;
  absl::Time now = absl::FromCivil(absl::CivilMinute(2024, 1, 15, 12, 0), absl::UTCTimeZone());
  std::unique_ptr<Notifications> notifications;
};

}  // namespace

TEST_CASE_METHOD(Fixture, "Notify stores a rendered notification, bumps the counter and delivers it", "[notification]") {
  auto r = notifications->Notify({.recipient_id = "bob", .type = "new_follower", .actor = Actor{"ana", "Ana", "a.png"},
                                  .entity_type = "user", .entity_id = "ana"});
  REQUIRE(r.ok());
  CHECK(r->outcome == Outcome::kCreated);
  REQUIRE(r->notification);
  CHECK(r->notification->title == "Ana started following you");
  CHECK(r->notification->deep_link == "/users/ana");
  CHECK(r->unread == 1);
  CHECK(Counter("bob") == 1);
  CHECK(r->push_requested);  // bob has no live session
  CHECK(push.Count("bob") == 1);

  auto news = sink.To("bob", "notification:new");
  REQUIRE(news.size() == 1);
  CHECK(news[0]["id"].as_string() == absl::StrCat(r->notification->id));
  CHECK(news[0]["title"].as_string() == "Ana started following you");
  CHECK(news[0]["updated"].as_bool() == false);
  CHECK(news[0]["data"].as_object()["senderId"].as_string() == "ana");
  CHECK(news[0]["data"].as_object()["deepLink"].as_string() == "/users/ana");
  auto unread = sink.To("bob", "notification:unread");
  REQUIRE(unread.size() == 1);
  CHECK(unread[0]["count"].as_int64() == 1);

  // Online: delivered, no push.
  sessions.live.insert("bob");
  auto online = notifications->Notify({.recipient_id = "bob", .type = "new_follower", .actor = Actor{"cy", "Cy", ""}});
  REQUIRE(online.ok());
  CHECK_FALSE(online->push_requested);
  CHECK(push.Count("bob") == 1);
  CHECK(online->unread == 2);

  // Bad input changes nothing.
  CHECK(absl::IsInvalidArgument(notifications->Notify({.recipient_id = "", .type = "new_follower"}).status()));
  CHECK(absl::IsInvalidArgument(notifications->Notify({.recipient_id = "bob", .type = "Bad Type"}).status()));
  CHECK(absl::IsNotFound(notifications->Notify({.recipient_id = "bob", .type = "no_such_type"}).status()));
  CHECK(absl::IsInvalidArgument(
      notifications->Notify({.recipient_id = "bob", .type = "new_follower", .data = {{"bad key", "x"}}}).status()));
  // A type whose title needs data it did not get.
  CHECK(absl::IsInvalidArgument(notifications->Notify({.recipient_id = "bob", .type = "system_announcement"}).status()));
  CHECK(Counter("bob") == 2);
  CHECK(UnreadRows("bob") == 2);
}

TEST_CASE_METHOD(Fixture, "preferences: type off stores nothing, push off and quiet hours suppress only push",
                 "[notification]") {
  // Defaults are created on first read; story_view is off by default.
  auto prefs = notifications->GetPreferences("bob");
  REQUIRE(prefs.ok());
  CHECK(prefs->push_enabled);
  CHECK(prefs->time_zone == "UTC");
  auto effective = notifications->EffectiveTypes(*prefs);
  REQUIRE(effective.ok());
  CHECK(effective->size() == 14);
  CHECK((*effective)["story_view"] == false);
  CHECK((*effective)["post_like"] == true);

  auto story = notifications->Notify({.recipient_id = "bob", .type = "story_view", .actor = Actor{"ana"}});
  REQUIRE(story.ok());
  CHECK(story->outcome == Outcome::kDisabled);

  NotificationStore::PreferencesUpdate off;
  off.types = {{"post_like", false}};
  REQUIRE(notifications->UpdatePreferences("bob", off).ok());
  auto like = notifications->Notify(Like("bob", "ana", "p1"));
  REQUIRE(like.ok());
  CHECK(like->outcome == Outcome::kDisabled);
  CHECK_FALSE(like->notification);
  CHECK(Scalar("SELECT count(*) FROM notification.notifications") == 0);
  CHECK(sink.Size() == 0);
  CHECK(push.Total() == 0);

  // Push off: stored and delivered, not pushed.
  NotificationStore::PreferencesUpdate no_push;
  no_push.push_enabled = false;
  no_push.types = {{"post_like", true}};
  REQUIRE(notifications->UpdatePreferences("bob", no_push).ok());
  auto pushed_off = notifications->Notify(Like("bob", "ana", "p1"));
  REQUIRE(pushed_off.ok());
  CHECK(pushed_off->outcome == Outcome::kCreated);
  CHECK_FALSE(pushed_off->push_requested);
  CHECK(sink.To("bob", "notification:new").size() == 1);
  CHECK(push.Total() == 0);

  // Quiet hours 22:00-07:00 in New York; the clock says 03:00 there: stored, delivered, no push.
  NotificationStore::PreferencesUpdate quiet;
  quiet.push_enabled = true;
  quiet.quiet_hours = QuietHours{true, 22 * 60, 7 * 60};
  quiet.time_zone = "America/New_York";
  auto updated = notifications->UpdatePreferences("bob", quiet);
  REQUIRE(updated.ok());
  CHECK(updated->quiet_hours.enabled);
  CHECK(updated->type_overrides.at("post_like") == true);  // earlier toggles are kept (merge)
  absl::TimeZone ny;
  REQUIRE(absl::LoadTimeZone("America/New_York", &ny));
  SetNow(absl::FromCivil(absl::CivilMinute(2024, 1, 15, 3, 0), ny));
  auto at_night = notifications->Notify({.recipient_id = "bob", .type = "new_follower", .actor = Actor{"cy"}});
  REQUIRE(at_night.ok());
  CHECK(at_night->outcome == Outcome::kCreated);
  CHECK_FALSE(at_night->push_requested);
  // 09:00 in New York: push again.
  SetNow(absl::FromCivil(absl::CivilMinute(2024, 1, 15, 9, 0), ny));
  auto morning = notifications->Notify({.recipient_id = "bob", .type = "new_follower", .actor = Actor{"dee"}});
  REQUIRE(morning.ok());
  CHECK(morning->push_requested);
  CHECK(push.Total() == 1);

  // Bad preference input is refused and changes nothing.
  NotificationStore::PreferencesUpdate bad_tz;
  bad_tz.time_zone = "Mars/Olympus";
  CHECK(absl::IsInvalidArgument(notifications->UpdatePreferences("bob", bad_tz).status()));
  NotificationStore::PreferencesUpdate bad_type;
  bad_type.types = {{"no_such_type", true}};
  CHECK(absl::IsInvalidArgument(notifications->UpdatePreferences("bob", bad_type).status()));
  auto after = notifications->GetPreferences("bob");
  REQUIRE(after.ok());
  CHECK(after->time_zone == "America/New_York");
  CHECK(after->type_overrides.count("no_such_type") == 0);
}

TEST_CASE_METHOD(Fixture, "dedupe holds under concurrent duplicate calls", "[notification]") {
  constexpr int kThreads = 8;
  std::atomic<int> created{0}, duplicates{0}, errors{0};
  std::set<int64_t> ids;
  std::mutex ids_mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = NotifyTyped(*notifications, Notifications::NewMessageInput("bob", Actor{"ana", "Ana", ""}, 7, 42, "hello"));
      if (!r.ok()) {
        ++errors;
        return;
      }
      if (r->outcome == Outcome::kCreated) ++created;
      if (r->outcome == Outcome::kDuplicate) ++duplicates;
      if (r->notification) {
        std::lock_guard lock(ids_mu);
        ids.insert(r->notification->id);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(created == 1);
  CHECK(duplicates == kThreads - 1);
  CHECK(ids.size() == 1);  // every duplicate answer names the stored notification
  CHECK(Scalar("SELECT count(*) FROM notification.notifications") == 1);
  CHECK(Counter("bob") == 1);
  CHECK(sink.To("bob", "notification:new").size() == 1);
  CHECK(push.Count("bob") == 1);
}

TEST_CASE_METHOD(Fixture, "counters stay exact under concurrent notify and mark-read, and after a rebuild",
                 "[notification]") {
  constexpr int kWriters = 4, kPerWriter = 40, kReaders = 3;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        // Every other one collapses into a group (no counter change when it merges).
        Notifications::NotifyInput in{.recipient_id = "bob", .type = "post_comment",
                                      .actor = Actor{absl::StrCat("w", w, "-", i)},
                                      .data = {{"postId", "p"}, {"preview", "x"}},
                                      .dedupe_key = absl::StrCat("c", w, "-", i)};
        if (i % 2 == 0) in.group_key = absl::StrCat("g", i % 6);
        if (!notifications->Notify(in).ok()) ++failures;
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      while (!done.load()) {
        if (r == 0) {
          if (!notifications->MarkAllRead("bob").ok()) ++failures;
        } else {
          auto page = notifications->List("bob", "", 10, true);
          if (!page.ok()) {
            ++failures;
            continue;
          }
          for (const auto& n : page->notifications) {
            if (!notifications->MarkRead("bob", n.id).ok()) ++failures;
          }
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();
  CHECK(failures == 0);
  CHECK(Counter("bob") == UnreadRows("bob"));
  CHECK(*notifications->UnreadCount("bob") == UnreadRows("bob"));

  // A few unread ones, a corrupted counter, then rebuilds (one user, then everyone).
  for (int i = 0; i < 3; ++i) {
    REQUIRE(notifications->Notify({.recipient_id = "bob", .type = "new_follower", .actor = Actor{absl::StrCat("f", i)}}).ok());
    REQUIRE(notifications->Notify({.recipient_id = "cy", .type = "new_follower", .actor = Actor{absl::StrCat("f", i)}}).ok());
  }
  const int64_t bob_unread = UnreadRows("bob");
  Exec("UPDATE notification.counters SET unread = 999 WHERE recipient_id = 'bob'");
  Exec("UPDATE notification.counters SET unread = 0 WHERE recipient_id = 'cy'");
  Exec("INSERT INTO notification.counters VALUES ('ghost', 5)");
  auto fixed = notifications->RebuildUnreadCounters("bob");
  REQUIRE(fixed.ok());
  CHECK(*fixed == 1);
  CHECK(Counter("bob") == bob_unread);
  CHECK(Counter("cy") == 0);  // untouched by the single-user rebuild
  auto all = notifications->RebuildUnreadCounters("");
  REQUIRE(all.ok());
  CHECK(*all == 2);  // cy and ghost
  CHECK(Counter("cy") == 3);
  CHECK(Counter("ghost") == 0);
  CHECK(*notifications->RebuildUnreadCounters("") == 0);

  // Mark-read answers: NOT_FOUND for another user's notification, idempotent for one's own.
  auto page = notifications->List("cy", "", 1, false);
  REQUIRE(page.ok());
  REQUIRE(page->notifications.size() == 1);
  const int64_t cy_id = page->notifications[0].id;
  CHECK(absl::IsNotFound(notifications->MarkRead("bob", cy_id).status()));
  auto first = notifications->MarkRead("cy", cy_id);
  REQUIRE(first.ok());
  CHECK(first->changed);
  CHECK(first->unread == 2);
  auto again = notifications->MarkRead("cy", cy_id);
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed);
  CHECK(again->unread == 2);
  auto all_read = notifications->MarkAllRead("cy");
  REQUIRE(all_read.ok());
  CHECK(all_read->marked == 2);
  CHECK(all_read->unread == 0);
  CHECK(sink.To("cy", "notification:unread").back()["count"].as_int64() == 0);
}

TEST_CASE_METHOD(Fixture, "collapse merges a group's events into one notification within the window",
                 "[notification]") {
  auto first = NotifyTyped(*notifications, Notifications::PostLikeInput("bob", Actor{"ana", "Ana", ""}, "p1", "my post"));
  REQUIRE(first.ok());
  CHECK(first->outcome == Outcome::kCreated);
  CHECK(first->notification->title == "Ana liked your post");
  auto second = NotifyTyped(*notifications, Notifications::PostLikeInput("bob", Actor{"bo", "Bo", ""}, "p1", "my post"));
  REQUIRE(second.ok());
  CHECK(second->outcome == Outcome::kCollapsed);
  CHECK(second->notification->id == first->notification->id);
  CHECK(second->notification->title == "Bo and Ana liked your post");
  for (const char* who : {"cy", "dee"}) REQUIRE(NotifyTyped(*notifications, Notifications::PostLikeInput("bob", Actor{who, "", ""}, "p1", "")).ok());
  // A retried like (same dedupe key) changes nothing, even though it did not create the row.
  auto retry = NotifyTyped(*notifications, Notifications::PostLikeInput("bob", Actor{"bo", "Bo", ""}, "p1", "my post"));
  REQUIRE(retry.ok());
  CHECK(retry->outcome == Outcome::kDuplicate);
  CHECK(retry->notification->id == first->notification->id);

  auto page = notifications->List("bob", "", 10, false);
  REQUIRE(page.ok());
  REQUIRE(page->notifications.size() == 1);
  const Notification& n = page->notifications[0];
  CHECK(n.count == 4);
  CHECK(n.title == "dee and 3 others liked your post");
  REQUIRE(n.actors.size() == 3);
  CHECK(n.actors[0].id == "dee");
  CHECK(n.actors[1].id == "cy");
  CHECK(n.actors[2].id == "bo");
  CHECK(Counter("bob") == 1);
  auto news = sink.To("bob", "notification:new");
  REQUIRE(news.size() == 4);
  CHECK(news[0]["updated"].as_bool() == false);
  CHECK(news[3]["updated"].as_bool() == true);
  CHECK(news[3]["id"] == news[0]["id"]);
  CHECK(news[3]["count"].as_int64() == 4);
  CHECK(sink.To("bob", "notification:unread").size() == 1);  // only the creation changed the count

  // Another post: its own notification.
  REQUIRE(NotifyTyped(*notifications, Notifications::PostLikeInput("bob", Actor{"ana", "Ana", ""}, "p2", "")).ok());
  CHECK(Counter("bob") == 2);

  // Read groups do not collapse: the next like starts a new notification.
  REQUIRE(notifications->MarkRead("bob", first->notification->id).ok());
  auto after_read = NotifyTyped(*notifications, Notifications::PostLikeInput("bob", Actor{"eve", "Eve", ""}, "p1", ""));
  REQUIRE(after_read.ok());
  CHECK(after_read->outcome == Outcome::kCreated);
  CHECK(after_read->notification->title == "Eve liked your post");
  // Outside the window (1 h): a new notification too.
  Exec(absl::StrCat("UPDATE notification.notifications SET updated_at = now() - interval '2 hours' WHERE id = ",
                    after_read->notification->id));
  auto late = NotifyTyped(*notifications, Notifications::PostLikeInput("bob", Actor{"fay", "Fay", ""}, "p1", ""));
  REQUIRE(late.ok());
  CHECK(late->outcome == Outcome::kCreated);
  CHECK(Counter("bob") == UnreadRows("bob"));

  // Concurrent first events of one group still make one notification.
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      CHECK(NotifyTyped(*notifications, Notifications::PostLikeInput("zed", Actor{absl::StrCat("u", i), "", ""}, "p9", "")).ok());
    });
  }
  for (auto& t : threads) t.join();
  CHECK(Scalar("SELECT count(*) FROM notification.notifications WHERE recipient_id = 'zed'") == 1);
  CHECK(Scalar("SELECT group_count FROM notification.notifications WHERE recipient_id = 'zed'") == 6);
  CHECK(Counter("zed") == 1);
}

TEST_CASE_METHOD(Fixture, "List pages by latest activity, filters unread, and shows actor info", "[notification]") {
  for (int i = 0; i < 5; ++i) {
    REQUIRE(notifications->Notify({.recipient_id = "bob", .type = "new_follower",
                                   .actor = Actor{absl::StrCat("u", i), absl::StrCat("User ", i), "pic.png"}})
                .ok());
  }
  auto p1 = notifications->List("bob", "", 2, false);
  REQUIRE(p1.ok());
  REQUIRE(p1->notifications.size() == 2);
  CHECK(p1->notifications[0].actor.name == "User 4");
  CHECK(p1->notifications[0].actor.avatar_url == "pic.png");
  REQUIRE_FALSE(p1->next_cursor.empty());
  auto p2 = notifications->List("bob", p1->next_cursor, 2, false);
  REQUIRE(p2.ok());
  REQUIRE(p2->notifications.size() == 2);
  CHECK(p2->notifications[0].actor.id == "u2");
  auto p3 = notifications->List("bob", p2->next_cursor, 2, false);
  REQUIRE(p3.ok());
  REQUIRE(p3->notifications.size() == 1);
  CHECK(p3->next_cursor.empty());

  REQUIRE(notifications->MarkRead("bob", p1->notifications[0].id).ok());
  auto unread = notifications->List("bob", "", 10, true);
  REQUIRE(unread.ok());
  CHECK(unread->notifications.size() == 4);
  CHECK(absl::IsInvalidArgument(notifications->List("bob", "garbage", 10, false).status()));
  CHECK(absl::IsInvalidArgument(notifications->List("bob", "", 1000, false).status()));
}

TEST_CASE_METHOD(Fixture, "retention deletes old notifications and keeps counters exact", "[notification]") {
  for (int i = 0; i < 6; ++i) {
    REQUIRE(notifications->Notify({.recipient_id = "bob", .type = "new_follower", .actor = Actor{absl::StrCat("u", i)},
                                   .dedupe_key = absl::StrCat("f", i)})
                .ok());
  }
  auto page = notifications->List("bob", "", 10, false);
  REQUIRE(page.ok());
  REQUIRE(notifications->MarkRead("bob", page->notifications[0].id).ok());  // u5, read
  // u5 (read), u4, u3 (unread) become 40 days old.
  Exec("UPDATE notification.notifications SET updated_at = now() - interval '40 days', "
       "created_at = now() - interval '40 days' WHERE actor_id IN ('u5', 'u4', 'u3')");
  // Old keys go with their notifications; an old key whose notification is kept (f0) stays.
  Exec("UPDATE notification.dedupe_keys SET created_at = now() - interval '40 days' WHERE dedupe_key IN ('f4', 'f0')");
  CHECK(Counter("bob") == 5);
  auto deleted = notifications->DeleteOld(0);  // the default retention, 30 days
  REQUIRE(deleted.ok());
  CHECK(*deleted == 3);
  CHECK(Scalar("SELECT count(*) FROM notification.notifications") == 3);
  CHECK(Counter("bob") == 3);
  CHECK(Counter("bob") == UnreadRows("bob"));
  CHECK(Scalar("SELECT count(*) FROM notification.dedupe_keys") == 5);
  CHECK(Scalar("SELECT count(*) FROM notification.dedupe_keys WHERE dedupe_key = 'f0'") == 1);
  auto retried = notifications->Notify({.recipient_id = "bob", .type = "new_follower", .actor = Actor{"u0"},
                                        .dedupe_key = "f0"});
  REQUIRE(retried.ok());
  CHECK(retried->outcome == Outcome::kDuplicate);
  CHECK(*notifications->DeleteOld(0) == 0);
  CHECK(absl::IsInvalidArgument(notifications->DeleteOld(-1).status()));
}

TEST_CASE_METHOD(Fixture, "NotifyMany reaches thousands of recipients with mixed preferences", "[notification]") {
  std::vector<std::string> recipients;
  for (int i = 0; i < 1200; ++i) recipients.push_back(absl::StrCat("m", i));
  recipients.push_back("m0");  // duplicates are ignored
  NotificationStore::PreferencesUpdate off;
  off.types = {{"system_announcement", false}};
  NotificationStore::PreferencesUpdate no_push;
  no_push.push_enabled = false;
  for (int i = 0; i < 10; ++i) REQUIRE(notifications->UpdatePreferences(absl::StrCat("m", i), off).ok());
  for (int i = 10; i < 30; ++i) REQUIRE(notifications->UpdatePreferences(absl::StrCat("m", i), no_push).ok());
  for (int i = 30; i < 130; ++i) sessions.live.insert(absl::StrCat("m", i));
  // One recipient has an unread notification already: their count becomes 2.
  REQUIRE(notifications->Notify({.recipient_id = "m500", .type = "new_follower", .actor = Actor{"x"}}).ok());
  const size_t push_before = push.Total();

  Notifications::ManyInput in{.recipients = recipients, .type = "system_announcement",
                              .data = {{"title", "Maintenance"}, {"body", "Tonight 02:00 UTC"}, {"link", "/status"}},
                              .dedupe_key = "announce-1"};
  auto result = notifications->NotifyMany(in);
  REQUIRE(result.ok());
  CHECK(result->created == 1190);
  CHECK(result->disabled == 10);
  CHECK(result->duplicates == 0);
  CHECK(result->push_requested == 1190 - 20 - 100);
  CHECK(push.Total() - push_before == 1070);
  CHECK(Scalar("SELECT count(*) FROM notification.notifications WHERE type = 'system_announcement'") == 1190);
  CHECK(Counter("m0") == 0);
  CHECK(Counter("m1199") == 1);
  CHECK(Counter("m500") == 2);
  auto news = sink.To("m700", "notification:new");
  REQUIRE(news.size() == 1);
  CHECK(news[0]["title"].as_string() == "Maintenance");
  CHECK(news[0]["deepLink"].as_string() == "/status");
  CHECK(sink.To("m500", "notification:unread").back()["count"].as_int64() == 2);
  CHECK(sink.To("m0", "notification:new").empty());

  // The same announcement again: all duplicates, nothing stored or sent.
  const size_t events_before = sink.Size();
  auto again = notifications->NotifyMany(in);
  REQUIRE(again.ok());
  CHECK(again->created == 0);
  CHECK(again->duplicates == 1190);
  CHECK(sink.Size() == events_before);

  std::vector<std::string> too_many(kMaxManyRecipients + 1, "u");
  CHECK(absl::IsInvalidArgument(notifications->NotifyMany({.recipients = too_many, .type = "system_announcement"}).status()));
  CHECK(absl::IsInvalidArgument(
      notifications->NotifyMany({.recipients = {"a"}, .type = "system_announcement"}).status()));  // title renders empty
}

TEST_CASE_METHOD(Fixture, "run-time types: registered, validated, usable, toggled", "[notification]") {
  auto t = notifications->RegisterType(NotificationType{.name = "build_failed", .title_template = "Build {build} failed",
                                                        .body_template = "{actor} broke it",
                                                        .deep_link_template = "/builds/{build}",
                                                        .default_enabled = true, .push = false});
  REQUIRE(t.ok());
  CHECK_FALSE(t->built_in);
  auto r = notifications->Notify({.recipient_id = "bob", .type = "build_failed", .actor = Actor{"ci", "CI", ""},
                                  .data = {{"build", "42"}}});
  REQUIRE(r.ok());
  CHECK(r->notification->title == "Build 42 failed");
  CHECK(r->notification->body == "CI broke it");
  CHECK(r->notification->deep_link == "/builds/42");
  CHECK_FALSE(r->push_requested);  // the type does not push
  auto prefs = notifications->GetPreferences("bob");
  REQUIRE(prefs.ok());
  CHECK(notifications->EffectiveTypes(*prefs)->at("build_failed") == true);

  // Re-registering updates; built-ins cannot be redefined; bad names and templates are refused.
  auto updated = notifications->RegisterType(NotificationType{.name = "build_failed", .title_template = "Build {build} is red"});
  REQUIRE(updated.ok());
  CHECK(updated->title_template == "Build {build} is red");
  CHECK(absl::IsFailedPrecondition(
      notifications->RegisterType(NotificationType{.name = "post_like", .title_template = "x"}).status()));
  CHECK(absl::IsInvalidArgument(notifications->RegisterType(NotificationType{.name = "Bad", .title_template = "x"}).status()));
  CHECK(absl::IsInvalidArgument(notifications->RegisterType(NotificationType{.name = "ok_name", .title_template = "{x"}).status()));
  CHECK(absl::IsInvalidArgument(notifications->RegisterType(NotificationType{.name = "ok_name", .title_template = ""}).status()));
  CHECK(notifications->ListTypes()->size() == 15);
}

TEST_CASE("BusEventSink publishes per-user events to the users' channels and streams", "[notification]") {
  auto redis = sb::testing::RedisServer::Start();
  REQUIRE(redis.ok());
  auto client = sb::redis::Client::Create({.url = (*redis)->url()});
  REQUIRE(client.ok());
  auto publisher = sb::bus::Publisher::Create(**client, {.origin = "test"});
  REQUIRE(publisher.ok());
  BusEventSink sink(*publisher);
  std::vector<EventSink::Delivery> items;
  for (int i = 0; i < 300; ++i) items.push_back({absl::StrCat("u", i), "notification:new", absl::StrCat("{\"n\":", i, "}")});
  REQUIRE(sink.PublishAll(items).ok());
  for (int i : {0, 137, 299}) {
    auto read = sb::bus::ReadUserStream(**client, absl::StrCat("u", i), "0-0", 10);
    REQUIRE(read.ok());
    REQUIRE(read->events.size() == 1);
    CHECK(read->events[0].name() == "notification:new");
    CHECK(read->events[0].payload_json() == absl::StrCat("{\"n\":", i, "}"));
  }
  BusSessionDirectory sessions(**client);
  auto live = sessions.HaveLiveSessions({"u1", "u2"});
  REQUIRE(live.ok());
  CHECK(*live == std::vector<bool>{false, false});
}

namespace {

// The rows a run leaves behind, ids and times left out: notifications in id order, dedupe keys with
// the position (in id order) of the notification they name, counters.
std::vector<std::string> Snapshot(sb::db::ConnectionPool& pool) {
  auto rows = sb::db::RunInTransaction(pool, [](pqxx::work& tx) {
    std::vector<std::string> out;
    for (const auto& r : tx.exec(
             "SELECT concat_ws('|', recipient_id, type, actor_id, actors::text, entity_type, entity_id, title, body, "
             "deep_link, data::text, coalesce(dedupe_key, '-'), coalesce(group_key, '-'), group_count, read_at IS NULL, "
             "created_at <= updated_at) FROM notification.notifications ORDER BY id")) {
      out.push_back(r[0].as<std::string>());
    }
    for (const auto& r : tx.exec(
             "SELECT concat_ws('|', d.recipient_id, d.dedupe_key, (SELECT count(*) FROM notification.notifications n "
             "WHERE n.id <= d.notification_id)) FROM notification.dedupe_keys d ORDER BY 1")) {
      out.push_back(r[0].as<std::string>());
    }
    for (const auto& r : tx.exec("SELECT recipient_id || '=' || unread FROM notification.counters ORDER BY 1")) {
      out.push_back(r[0].as<std::string>());
    }
    return out;
  });
  REQUIRE(rows.ok());
  return *rows;
}

std::string Describe(const absl::StatusOr<NotificationStore::NotifyResult>& r) {
  if (!r.ok()) return absl::StrCat("error ", absl::StatusCodeToString(r.status().code()));
  std::string out = absl::StrCat("outcome ", static_cast<int>(r->outcome), " unread ", r->unread);
  if (r->notification) {
    const Notification& n = *r->notification;
    std::string actors;
    for (const auto& a : n.actors) absl::StrAppend(&actors, a.id, ",");
    std::string data;
    for (const auto& [k, v] : n.data) absl::StrAppend(&data, k, "=", v, ";");
    absl::StrAppend(&out, " #", n.id, " ", n.recipient_id, " ", n.type, " [", n.title, "] [", n.body, "] ", n.deep_link,
                    " count ", n.count, " actor ", n.actor.id, " actors ", actors, " data ", data, " group ", n.group_key,
                    " read ", n.read_at_ms.has_value());
  }
  return out;
}

NotificationStore::NotifyInput StoreInput(const std::string& recipient, const std::string& type, const std::string& actor,
                                          const std::string& key, const std::string& group,
                                          std::map<std::string, std::string> data = {{"preview", "p"}}) {
  NotificationStore::NotifyInput in;
  in.event.recipient_id = recipient;
  in.event.type = type;
  in.event.actor = Actor{actor, actor + "-name", ""};
  in.event.entity_type = "post";
  in.event.entity_id = "e1";
  in.event.data = std::move(data);
  in.event.group_key = group;
  in.dedupe_key = key;
  return in;
}

// A session directory that holds the writer inside HaveLiveSessions until released, so the test
// decides what queues behind it (and so what the next batch holds).
class GateSessions : public SessionDirectory {
 public:
  absl::StatusOr<std::vector<bool>> HaveLiveSessions(const std::vector<std::string>& users) override {
    std::unique_lock lock(mu);
    ++entered;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
    return std::vector<bool>(users.size(), false);
  }
  void WaitEntered(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return entered >= n; });
  }
  void Open() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  bool open = false;
};

}  // namespace

TEST_CASE_METHOD(Fixture, "a batch stores what the same notifications one by one store", "[notification][batch]") {
  // Two databases in the same starting state: one gets the items one by one (Notify), the other
  // as one batch (NotifyBatch).
  static int n = 0;
  const std::string other = absl::StrCat("notif_batch_", ++n);
  REQUIRE(Postgres().CreateDatabase(other).ok());
  sb::db::ConnectionPool other_pool(sb::db::PoolOptions{.url = Postgres().url(other), .max_connections = 2});
  REQUIRE(sb::db::ApplyMigrations(other_pool, "notification", SB_NOTIFICATION_DEFAULT_MIGRATIONS_DIR).ok());
  NotificationStore one_by_one(*pool);
  NotificationStore batched(other_pool);
  NotificationStore::PreferencesUpdate no_comments;
  no_comments.types = {{"post_comment", false}};
  for (NotificationStore* s : {&one_by_one, &batched}) {
    // Before the batch: an unread like group of bob's (collapsed into by the batch), a read one
    // (not collapsed into), cy's comments off, and a key seen before.
    REQUIRE(s->Notify(StoreInput("bob", "post_like", "zed", "like:p1:zed", "post_like:p1")).ok());
    REQUIRE(s->Notify(StoreInput("bob", "post_like", "yan", "like:p2:yan", "post_like:p2")).ok());
    REQUIRE(s->UpdatePreferences("cy", no_comments).ok());
    REQUIRE(s->Notify(StoreInput("cy", "new_follower", "old", "follow:old", "new_follower")).ok());
  }
  Exec("UPDATE notification.notifications SET read_at = now() WHERE dedupe_key = 'like:p2:yan'");
  REQUIRE(sb::db::RunInTransaction(other_pool, [](pqxx::work& tx) {
            tx.exec0("UPDATE notification.notifications SET read_at = now() WHERE dedupe_key = 'like:p2:yan'");
          }).ok());

  const std::vector<NotificationStore::NotifyInput> items = {
      StoreInput("bob", "post_like", "ana", "like:p1:ana", "post_like:p1"),        // collapsed into zed's row
      StoreInput("bob", "post_like", "bo", "like:p1:bo", "post_like:p1"),          // collapsed again
      StoreInput("bob", "post_like", "zed", "like:p1:zed", "post_like:p1"),        // duplicate (key from before)
      StoreInput("bob", "post_like", "ana", "like:p1:ana", "post_like:p1"),        // duplicate (key from this batch)
      StoreInput("bob", "post_like", "cy", "like:p2:cy", "post_like:p2"),          // created: p2's row is read
      StoreInput("bob", "post_like", "dee", "like:p2:dee", "post_like:p2"),        // collapsed into the row just created
      StoreInput("bob", "new_follower", "ana", "", ""),                            // created, no key
      StoreInput("bob", "new_follower", "ana", "", ""),                            // created again (no key, no group)
      StoreInput("cy", "post_comment", "ana", "comment:1", "post_comment:p1"),     // disabled by cy
      StoreInput("cy", "story_view", "ana", "", ""),                               // disabled by default
      StoreInput("cy", "no_such_type", "ana", "", ""),                             // NotFound
      StoreInput("cy", "new_follower", "old", "follow:old", "new_follower"),       // duplicate of a row it names
      StoreInput("cy", "new_follower", "new", "follow:new", "new_follower"),       // collapsed into that row
      StoreInput("dee", "comment_reply", "bo", "reply:1", "comment_reply:c1",
                 {{"postId", "p9"}, {"preview", "first"}}),                        // created
      StoreInput("dee", "comment_reply", "cy", "reply:2", "comment_reply:c1",
                 {{"postId", "p9"}, {"preview", "second"}}),                       // collapsed, data merged
      StoreInput("dee", "comment_reply", "bo", "reply:1", "comment_reply:c1"),     // duplicate of the collapsed row
  };
  std::vector<std::string> expected;
  for (const auto& item : items) expected.push_back(Describe(one_by_one.Notify(item)));
  auto batch = batched.NotifyBatch(items);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    INFO("item " << i);
    CHECK(Describe((*batch)[i]) == expected[i]);
  }
  // The outcomes the items were written for (so the comparison covers every path).
  CHECK((*batch)[0]->outcome == Outcome::kCollapsed);
  CHECK((*batch)[1]->notification->title == "bo-name and 2 others liked your post");
  CHECK((*batch)[2]->outcome == Outcome::kDuplicate);
  CHECK((*batch)[3]->outcome == Outcome::kDuplicate);
  CHECK((*batch)[4]->outcome == Outcome::kCreated);
  CHECK((*batch)[5]->outcome == Outcome::kCollapsed);
  CHECK((*batch)[7]->outcome == Outcome::kCreated);
  CHECK((*batch)[8]->outcome == Outcome::kDisabled);
  CHECK((*batch)[9]->outcome == Outcome::kDisabled);
  CHECK(absl::IsNotFound((*batch)[10].status()));
  CHECK((*batch)[11]->outcome == Outcome::kDuplicate);
  CHECK((*batch)[12]->outcome == Outcome::kCollapsed);
  CHECK((*batch)[14]->notification->data.at("preview") == "second");
  CHECK((*batch)[15]->notification->count == 2);
  CHECK(Snapshot(other_pool) == Snapshot(*pool));

  // The same batch again: every keyed item is a duplicate, in both.
  std::vector<std::string> again;
  for (const auto& item : items) again.push_back(Describe(one_by_one.Notify(item)));
  auto batch_again = batched.NotifyBatch(items);
  REQUIRE(batch_again.ok());
  for (size_t i = 0; i < items.size(); ++i) {
    INFO("again, item " << i);
    CHECK(Describe((*batch_again)[i]) == again[i]);
  }
  CHECK(Snapshot(other_pool) == Snapshot(*pool));
}

TEST_CASE_METHOD(Fixture, "a batch that fails as a whole stores nothing; the domain retries its items alone",
                 "[notification][batch]") {
  // A new announcement without its title variable renders an empty title: the batch rolls back,
  // its dedupe keys included.
  const std::vector<NotificationStore::NotifyInput> items = {
      StoreInput("bob", "new_follower", "ana", "f:ana", "new_follower"),
      StoreInput("bob", "system_announcement", "", "a:1", "", {}),
      StoreInput("cy", "new_follower", "ana", "f:ana", "new_follower"),
  };
  CHECK(absl::IsInvalidArgument(store->NotifyBatch(items).status()));
  CHECK(Scalar("SELECT count(*) FROM notification.notifications") == 0);
  CHECK(Scalar("SELECT count(*) FROM notification.dedupe_keys") == 0);

  // Through the writer: hold it on a first notification, queue the three, release; they form one
  // batch, which fails, and each is stored alone.
  GateSessions gate;
  NotificationOptions options;
  options.notify_writers = 1;
  Notifications held(*store, sink, gate, push, options, [this] { return now; });
  std::promise<absl::StatusOr<Notifications::NotifyResult>> first_done;
  held.NotifyAsync({.recipient_id = "dee", .type = "new_follower", .actor = Actor{"x"}},
                   [&](absl::StatusOr<Notifications::NotifyResult> r) { first_done.set_value(std::move(r)); });
  gate.WaitEntered(1);
  std::vector<std::promise<absl::StatusOr<Notifications::NotifyResult>>> done(3);
  held.NotifyAsync({.recipient_id = "bob", .type = "new_follower", .actor = Actor{"ana"}, .dedupe_key = "f:ana",
                    .group_key = "new_follower"},
                   [&](auto r) { done[0].set_value(std::move(r)); });
  held.NotifyAsync({.recipient_id = "bob", .type = "system_announcement", .dedupe_key = "a:1"},
                   [&](auto r) { done[1].set_value(std::move(r)); });
  held.NotifyAsync({.recipient_id = "cy", .type = "new_follower", .actor = Actor{"ana"}, .dedupe_key = "f:ana",
                    .group_key = "new_follower"},
                   [&](auto r) { done[2].set_value(std::move(r)); });
  gate.Open();
  REQUIRE(first_done.get_future().get().ok());
  auto bob = done[0].get_future().get();
  auto bad = done[1].get_future().get();
  auto cy = done[2].get_future().get();
  REQUIRE(bob.ok());
  CHECK(bob->outcome == Outcome::kCreated);
  CHECK(absl::IsInvalidArgument(bad.status()));
  REQUIRE(cy.ok());
  CHECK(cy->outcome == Outcome::kCreated);
  CHECK(Scalar("SELECT count(*) FROM notification.notifications") == 3);
  CHECK(Scalar("SELECT count(*) FROM notification.dedupe_keys") == 2);  // not the failed one's
  CHECK(Counter("bob") == 1);
  CHECK(sink.To("bob", "notification:new").size() == 1);
  CHECK(sink.To("cy", "notification:unread").back()["count"].as_int64() == 1);
}

TEST_CASE_METHOD(Fixture, "Notify through the writer: batches publish per item, refuse past the queue, skip cancelled",
                 "[notification][batch]") {
  GateSessions gate;
  NotificationOptions options;
  options.notify_writers = 1;
  options.notify_queue_max = 4;
  Notifications held(*store, sink, gate, push, options, [this] { return now; });
  std::promise<absl::StatusOr<Notifications::NotifyResult>> first_done;
  held.NotifyAsync({.recipient_id = "bob", .type = "new_follower", .actor = Actor{"first"}},
                   [&](absl::StatusOr<Notifications::NotifyResult> r) { first_done.set_value(std::move(r)); });
  gate.WaitEntered(1);

  // Queued behind it: created, collapsed, duplicate, and one whose caller gave up; the next is
  // refused at once (the queue holds 4).
  std::vector<std::promise<absl::StatusOr<Notifications::NotifyResult>>> done(5);
  auto like = [&](const std::string& who, size_t slot, std::function<bool()> cancelled = nullptr) {
    held.NotifyAsync(Like("cy", who, "p1"), [&, slot](auto r) { done[slot].set_value(std::move(r)); }, cancelled);
  };
  like("ana", 0);
  like("bo", 1);
  like("ana", 2);
  like("dee", 3, [] { return true; });
  like("eve", 4);
  auto refused = done[4].get_future().get();  // answered on this thread, before the writer runs
  CHECK(absl::IsUnavailable(refused.status()));
  gate.Open();
  REQUIRE(first_done.get_future().get().ok());
  auto created = done[0].get_future().get();
  auto collapsed = done[1].get_future().get();
  auto duplicate = done[2].get_future().get();
  auto cancelled = done[3].get_future().get();
  REQUIRE(created.ok());
  REQUIRE(collapsed.ok());
  REQUIRE(duplicate.ok());
  CHECK(created->outcome == Outcome::kCreated);
  CHECK(collapsed->outcome == Outcome::kCollapsed);
  CHECK(collapsed->notification->id == created->notification->id);
  CHECK(collapsed->notification->title == "bo-name and ana-name liked your post");
  CHECK(duplicate->outcome == Outcome::kDuplicate);
  CHECK(absl::IsCancelled(cancelled.status()));
  CHECK(created->push_requested);  // offline, push on
  CHECK(collapsed->push_requested);
  CHECK_FALSE(duplicate->push_requested);
  CHECK(gate.entered == 2);  // one liveness question for the batch

  // Events per item, in order: new + unread for the created one, new (updated) for the collapse.
  auto news = sink.To("cy", "notification:new");
  REQUIRE(news.size() == 2);
  CHECK_FALSE(news[0]["updated"].as_bool());
  CHECK(news[1]["updated"].as_bool());
  CHECK(news[1]["count"].as_int64() == 2);
  CHECK(sink.To("cy", "notification:unread").size() == 1);
  CHECK(Counter("cy") == 1);
  CHECK(Scalar("SELECT count(*) FROM notification.dedupe_keys WHERE dedupe_key = 'like:p1:dee'") == 0);

  held.StopNotifies();
  auto stopped = held.Notify(Like("cy", "fay", "p1"));
  CHECK(absl::IsUnavailable(stopped.status()));
}
