// The presence domain with its real state (Redis Lua scripts) and last-seen store (Postgres),
// against private servers (sb::testing::RedisServer / PostgresServer). Contacts and the event sink
// are fakes: the privacy rules and the events published are what is checked.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "sb/db/migrations.h"
#include "sb/redis/client.h"
#include "sb/testing/servers.h"
#include "services/presence/presence.h"
#include "services/presence/redis_state.h"
#include "services/presence/store.h"

namespace {

using namespace sb::presence;
namespace json = boost::json;

struct Event {
  std::string user, name;
  json::object payload;
};

class RecordingSink : public EventSink {
 public:
  absl::Status PublishPresence(const std::string& user, const std::string& event, const std::string& payload) override {
    std::lock_guard lock(mu);
    events.push_back({user, event, json::parse(payload).as_object()});
    return absl::OkStatus();
  }
  std::vector<Event> Of(const std::string& user, const std::string& name) {
    std::lock_guard lock(mu);
    std::vector<Event> out;
    for (const auto& e : events) {
      if (e.user == user && e.name == name) out.push_back(e);
    }
    return out;
  }
  size_t size() {
    std::lock_guard lock(mu);
    return events.size();
  }
  std::mutex mu;
  std::vector<Event> events;
};

// Pairs of users sharing a conversation; groups by id.
class FakeContacts : public Contacts {
 public:
  absl::StatusOr<std::vector<std::string>> Filter(const std::string& viewer,
                                                  const std::vector<std::string>& candidates) override {
    std::vector<std::string> out;
    for (const auto& c : candidates) {
      if (c == viewer || pairs.count({viewer, c}) || pairs.count({c, viewer})) out.push_back(c);
    }
    return out;
  }
  absl::StatusOr<std::vector<std::string>> ConversationMembers(const std::string& viewer, int64_t id) override {
    auto it = groups.find(id);
    if (it == groups.end()) return absl::NotFoundError("no such conversation");
    if (std::find(it->second.begin(), it->second.end(), viewer) == it->second.end()) {
      return absl::PermissionDeniedError("not a member");
    }
    return it->second;
  }
  std::set<std::pair<std::string, std::string>> pairs;
  std::map<int64_t, std::vector<std::string>> groups;
};

sb::testing::RedisServer& Redis() {
  static auto server = [] {
    auto s = sb::testing::RedisServer::Start();
    if (!s.ok()) FAIL("redis: " << s.status().ToString());
    return std::move(*s);
  }();
  return *server;
}

sb::testing::PostgresServer& Postgres() {
  static auto server = [] {
    auto s = sb::testing::PostgresServer::Start();
    if (!s.ok()) FAIL("postgres: " << s.status().ToString());
    return std::move(*s);
  }();
  return *server;
}

PresenceOptions TestOptions() {
  PresenceOptions o;
  o.lease = absl::Seconds(10);
  o.debounce = absl::Seconds(4);
  o.idle_away = absl::ZeroDuration();
  return o;
}

struct Fixture {
  explicit Fixture(PresenceOptions options = TestOptions()) {
    static std::atomic<int> n{0};
    const std::string db = absl::StrCat("presence_test_", n.fetch_add(1));
    REQUIRE(Postgres().CreateDatabase(db).ok());
    pool = std::make_unique<sb::db::ConnectionPool>(sb::db::PoolOptions{.url = Postgres().url(db), .max_connections = 4});
    REQUIRE(sb::db::ApplyMigrations(*pool, "presence", SB_PRESENCE_DEFAULT_MIGRATIONS_DIR).ok());
    auto client = sb::redis::Client::Create({.url = Redis().url()});
    REQUIRE(client.ok());
    redis = std::move(*client);
    REQUIRE(redis->Command({"FLUSHALL"}).ok());
    state = std::make_unique<RedisPresenceState>(*redis);
    store = std::make_unique<LastSeenStore>(*pool);
    presence = std::make_unique<Presence>(*state, *store, contacts, sink, options, registry, [this] { return now; });
  }

  SessionInfo Session(const std::string& user, const std::string& sid, const std::string& gateway = "gw-1") {
    return SessionInfo{user, sid, gateway, "device", "web", std::nullopt};
  }
  void Register(const std::string& user, const std::string& sid, const std::string& gateway = "gw-1") {
    auto r = presence->RegisterSession(Session(user, sid, gateway));
    REQUIRE(r.ok());
  }
  int Unregister(const std::string& user, const std::string& sid) {
    auto r = presence->UnregisterSession(user, sid);
    REQUIRE(r.ok());
    return *r;
  }
  UserPresence Truth(const std::string& user) {
    auto r = presence->GetStatuses(std::nullopt, {user});
    REQUIRE(r.ok());
    return r->front();
  }
  Presence::SweepStats Sweep() {
    auto r = presence->Sweep();
    REQUIRE(r.ok());
    return *r;
  }
  int64_t NowMs() const { return absl::ToUnixMillis(now); }

  absl::Time now = absl::FromUnixMillis(1'900'000'000'123);
  sb::metrics::Registry registry;
  RecordingSink sink;
  FakeContacts contacts;
  std::unique_ptr<sb::db::ConnectionPool> pool;
  std::unique_ptr<sb::redis::Client> redis;
  std::unique_ptr<RedisPresenceState> state;
  std::unique_ptr<LastSeenStore> store;
  std::unique_ptr<Presence> presence;
};

}  // namespace

TEST_CASE("multi-device: online until the last device leaves, then offline once after the debounce",
          "[integration]") {
  Fixture f;
  f.Register("bob", "laptop");
  f.Register("bob", "phone");
  REQUIRE(f.sink.Of("bob", "user:online").size() == 1);
  UserPresence p = f.Truth("bob");
  CHECK(p.is_online);
  CHECK(p.connected);
  CHECK(p.sessions == 2);
  CHECK(p.status == Status::kOnline);

  CHECK(f.Unregister("bob", "laptop") == 1);
  f.now += absl::Seconds(6);  // past the debounce, within the phone's lease
  CHECK(f.Sweep().expired_sessions == 0);
  CHECK(f.Truth("bob").is_online);
  CHECK(f.sink.Of("bob", "user:offline").empty());

  const int64_t left_at = f.NowMs();
  CHECK(f.Unregister("bob", "phone") == 0);
  CHECK(f.Unregister("bob", "phone") == 0);  // idempotent
  f.now += absl::Seconds(2);
  f.Sweep();
  CHECK(f.sink.Of("bob", "user:offline").empty());  // still within the debounce
  CHECK_FALSE(f.Truth("bob").connected);

  f.now += absl::Seconds(3);
  f.Sweep();
  f.Sweep();
  auto offline = f.sink.Of("bob", "user:offline");
  REQUIRE(offline.size() == 1);
  CHECK(offline[0].payload.at("lastSeen").as_string() == FormatTime(left_at));
  p = f.Truth("bob");
  CHECK_FALSE(p.is_online);
  CHECK(p.status == Status::kOffline);
  CHECK(p.last_seen_ms == left_at);
  CHECK(f.sink.Of("bob", "user:online").size() == 1);
  CHECK(f.registry.Expose().find("sb_presence_transitions_total{kind=\"offline\"} 1") != std::string::npos);
}

TEST_CASE("a quick reconnect within the debounce publishes nothing", "[integration]") {
  Fixture f;
  f.Register("bob", "s1");
  f.Unregister("bob", "s1");
  f.now += absl::Seconds(1);
  f.Sweep();
  f.Register("bob", "s2");  // e.g. a page reload
  f.now += absl::Seconds(5);  // the debounce of s1's end has passed
  CHECK(f.Sweep().offline == 0);
  CHECK(f.sink.Of("bob", "user:online").size() == 1);
  CHECK(f.sink.Of("bob", "user:offline").empty());
  CHECK(f.Truth("bob").is_online);
}

TEST_CASE("sessions of a gateway that stops renewing expire with their lease", "[integration]") {
  PresenceOptions o = TestOptions();
  o.lease = absl::Seconds(2);
  o.debounce = absl::Seconds(1);
  Fixture f(o);
  f.Register("alice", "a1", "gw-alive");
  f.Register("bob", "b1", "gw-dead");
  f.now += absl::Milliseconds(1500);
  auto unknown = f.presence->RenewSessions("gw-alive", {f.Session("alice", "a1", "gw-alive")});
  REQUIRE(unknown.ok());
  CHECK(unknown->empty());
  f.now += absl::Milliseconds(1000);  // bob's lease (2 s) has passed, alice's was renewed
  CHECK(f.Sweep().expired_sessions == 1);
  CHECK_FALSE(f.Truth("bob").connected);
  CHECK(f.Truth("alice").connected);
  f.now += absl::Seconds(1);
  CHECK(f.Sweep().offline == 1);
  CHECK(f.sink.Of("bob", "user:offline").size() == 1);
  CHECK(f.sink.Of("alice", "user:offline").empty());
  // An expired session is unknown to a late renewal: the gateway re-registers it.
  unknown = f.presence->RenewSessions("gw-dead", {f.Session("bob", "b1", "gw-dead")});
  REQUIRE(unknown.ok());
  CHECK(*unknown == std::vector<std::string>{"b1"});
}

TEST_CASE("after a Redis restart renewals report unknown sessions and re-registering restores status",
          "[integration]") {
  Fixture f;
  f.Register("bob", "b1");
  f.Register("bob", "b2");
  REQUIRE(f.presence->FlushLastSeen().ok());
  REQUIRE(Redis().Restart().ok());  // no persistence: everything in Redis is gone

  absl::StatusOr<std::vector<std::string>> unknown;
  for (int i = 0; i < 50; ++i) {  // the pool reconnects on the next call
    unknown = f.presence->RenewSessions("gw-1", {f.Session("bob", "b1"), f.Session("bob", "b2")});
    if (unknown.ok()) break;
  }
  REQUIRE(unknown.ok());
  CHECK(unknown->size() == 2);
  for (const auto& sid : *unknown) f.Register("bob", sid);
  UserPresence p = f.Truth("bob");
  CHECK(p.is_online);
  CHECK(p.sessions == 2);
  CHECK(p.last_seen_ms.has_value());
}

TEST_CASE("privacy: only contacts see status, appear-offline looks offline to everyone", "[integration]") {
  Fixture f;
  f.contacts.pairs = {{"alice", "bob"}};
  f.contacts.groups[7] = {"alice", "bob", "carol"};
  f.Register("bob", "b1");
  f.Register("carol", "c1");

  auto seen = f.presence->GetStatuses(std::string("alice"), {"bob", "carol", "nobody"});
  REQUIRE(seen.ok());
  REQUIRE(seen->size() == 3);
  CHECK((*seen)[0].is_online);
  CHECK((*seen)[0].last_seen_ms.has_value());
  CHECK_FALSE((*seen)[1].is_online);  // carol is online but shares no conversation with alice
  CHECK((*seen)[1].status == Status::kOffline);
  CHECK_FALSE((*seen)[1].last_seen_ms.has_value());
  CHECK((*seen)[1].sessions == 0);
  CHECK_FALSE((*seen)[1].connected);  // viewers never learn `connected`

  auto watch = f.presence->Watch("alice", {"bob", "carol", "bob"});
  REQUIRE(watch.ok());
  REQUIRE(watch->allowed.size() == 1);
  CHECK(watch->allowed[0].user_id == "bob");
  CHECK(watch->denied == std::vector<std::string>{"carol"});

  // Group presence: members only, and the same contact rule inside.
  auto group = f.presence->GetConversationPresence("bob", 7);
  REQUIRE(group.ok());
  CHECK(group->size() == 3);
  CHECK(absl::IsPermissionDenied(f.presence->GetConversationPresence("mallory", 7).status()));

  // bob appears offline: watchers are told once, and he looks offline while connected.
  auto set = f.presence->SetStatus("bob", Status::kOffline, "");
  REQUIRE(set.ok());
  CHECK_FALSE(set->is_online);
  CHECK(set->connected);
  CHECK(f.sink.Of("bob", "user:offline").size() == 1);
  seen = f.presence->GetStatuses(std::string("alice"), {"bob"});
  REQUIRE(seen.ok());
  CHECK_FALSE(seen->front().is_online);
  CHECK(f.Truth("bob").connected);
  CHECK_FALSE(f.Truth("bob").is_online);
  // A new device of an invisible user tells nobody.
  f.Register("bob", "b2");
  CHECK(f.sink.Of("bob", "user:online").size() == 1);

  REQUIRE(f.presence->SetStatus("bob", Status::kAway, "").ok());
  CHECK(f.sink.Of("bob", "user:online").size() == 2);
  seen = f.presence->GetStatuses(std::string("alice"), {"bob"});
  REQUIRE(seen.ok());
  CHECK(seen->front().status == Status::kAway);

  // Activity while online: presence:update with the activity.
  REQUIRE(f.presence->SetStatus("bob", std::nullopt, "reading /inbox").ok());
  auto updates = f.sink.Of("bob", "presence:update");
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].payload.at("activity").as_string() == "reading /inbox");
  CHECK(updates[0].payload.at("status").as_string() == "away");
}

TEST_CASE("idle users become away and come back with activity", "[integration]") {
  PresenceOptions o = TestOptions();
  o.idle_away = absl::Seconds(60);
  o.lease = absl::Seconds(80);
  Fixture f(o);
  f.Register("bob", "b1");
  f.now += absl::Seconds(30);
  f.Sweep();
  CHECK(f.Truth("bob").status == Status::kOnline);
  f.now += absl::Seconds(31);
  CHECK(f.Sweep().away == 1);
  CHECK(f.Truth("bob").status == Status::kAway);
  REQUIRE(f.sink.Of("bob", "presence:update").size() == 1);
  CHECK(f.sink.Of("bob", "presence:update")[0].payload.at("status").as_string() == "away");

  f.now += absl::Seconds(5);
  SessionInfo renewed = f.Session("bob", "b1");
  renewed.last_active = f.now - absl::Seconds(1);
  REQUIRE(f.presence->RenewSessions("gw-1", {renewed}).ok());
  CHECK(f.Truth("bob").status == Status::kOnline);
  REQUIRE(f.sink.Of("bob", "presence:update").size() == 2);
  CHECK(f.sink.Of("bob", "presence:update")[1].payload.at("status").as_string() == "online");
}

TEST_CASE("last seen is flushed to Postgres and survives losing Redis", "[integration]") {
  Fixture f;
  f.Register("bob", "b1");
  f.now += absl::Seconds(5);
  const int64_t left_at = f.NowMs();
  f.Unregister("bob", "b1");
  auto flushed = f.presence->FlushLastSeen();
  REQUIRE(flushed.ok());
  CHECK(*flushed == 1);
  CHECK(*f.presence->FlushLastSeen() == 0);  // nothing dirty any more

  // An older value never lowers the stored one (batches from several instances may interleave).
  REQUIRE(f.store->Upsert({{"bob", left_at - 60'000}, {"carol", 1'000}, {"carol", 2'000}}).ok());
  auto stored = f.store->Get({"bob", "carol", "nobody"});
  REQUIRE(stored.ok());
  CHECK(stored->at("bob") == left_at);
  CHECK(stored->at("carol") == 2'000);
  CHECK(stored->count("nobody") == 0);

  REQUIRE(f.redis->Command({"FLUSHALL"}).ok());
  UserPresence p = f.Truth("bob");
  CHECK_FALSE(p.is_online);
  CHECK(p.last_seen_ms == left_at);
  // Read back into the cache: the next read does not need Postgres.
  auto cached = f.redis->Command({"HGET", "sb:pr:ls", "bob"});
  REQUIRE(cached.ok());
  CHECK(cached->str == absl::StrCat(left_at));
}

TEST_CASE("bad input is refused and changes nothing", "[integration]") {
  Fixture f;
  const std::string long_id(129, 'x');
  CHECK(absl::IsInvalidArgument(f.presence->RegisterSession(f.Session("", "s")).status()));
  CHECK(absl::IsInvalidArgument(f.presence->RegisterSession(f.Session(long_id, "s")).status()));
  CHECK(absl::IsInvalidArgument(f.presence->RegisterSession(f.Session("bob", std::string("a\0b", 3))).status()));
  CHECK(absl::IsInvalidArgument(f.presence->RegisterSession(f.Session("bob", "")).status()));
  CHECK(absl::IsInvalidArgument(f.presence->UnregisterSession("bob", "").status()));
  std::vector<std::string> many(1001, "u");
  CHECK(absl::IsInvalidArgument(f.presence->GetStatuses(std::nullopt, many).status()));
  CHECK(absl::IsInvalidArgument(f.presence->Watch("alice", many).status()));
  CHECK(absl::IsInvalidArgument(f.presence->GetStatuses(std::nullopt, {"ok", ""}).status()));
  CHECK(absl::IsInvalidArgument(f.presence->SetStatus("bob", std::nullopt, std::string(257, 'a')).status()));
  CHECK(absl::IsInvalidArgument(f.presence->SetStatus("bob", std::nullopt, "\xff\xfe").status()));
  CHECK(absl::IsInvalidArgument(
      f.presence->RenewSessions("gw", {f.Session("bob", "ok"), f.Session("", "bad")}).status()));
  CHECK(absl::IsInvalidArgument(f.presence->GetConversationPresence("bob", 0).status()));
  std::vector<std::string> thousand(1000, "u");
  CHECK(f.presence->GetStatuses(std::nullopt, thousand).ok());

  auto keys = f.redis->Command({"DBSIZE"});
  REQUIRE(keys.ok());
  CHECK(keys->integer == 0);
  CHECK(f.sink.size() == 0);
}

TEST_CASE("two instances sweeping at once publish each offline exactly once", "[integration]") {
  Fixture f;
  // A second instance: its own state client and Presence over the same Redis, same event sink.
  auto client = sb::redis::Client::Create({.url = Redis().url()});
  REQUIRE(client.ok());
  RedisPresenceState other_state(**client);
  sb::metrics::Registry other_registry;
  Presence other(other_state, *f.store, f.contacts, f.sink, TestOptions(), other_registry, [&f] { return f.now; });

  constexpr int kUsers = 200;
  for (int i = 0; i < kUsers; ++i) f.Register(absl::StrCat("u", i), absl::StrCat("s", i));
  for (int i = 0; i < kUsers; ++i) f.Unregister(absl::StrCat("u", i), absl::StrCat("s", i));
  f.now += absl::Seconds(5);
  std::atomic<int> offline{0};
  std::thread a([&] {
    for (int i = 0; i < 20; ++i) offline += f.presence->Sweep()->offline;
  });
  std::thread b([&] {
    for (int i = 0; i < 20; ++i) offline += other.Sweep()->offline;
  });
  a.join();
  b.join();
  CHECK(offline.load() == kUsers);
  size_t events = 0;
  for (int i = 0; i < kUsers; ++i) events += f.sink.Of(absl::StrCat("u", i), "user:offline").size();
  CHECK(events == kUsers);
}

TEST_CASE("a late unregister from the old gateway does not end a session recovered elsewhere", "[integration]") {
  Fixture f;
  f.Register("bob", "sock-1", "gw-a");
  f.Register("bob", "sock-1", "gw-b");  // recovered on gw-b with the same socket id
  auto remaining = f.presence->UnregisterSession("bob", "sock-1", "gw-a");
  REQUIRE(remaining.ok());
  CHECK(*remaining == 1);
  CHECK(f.Truth("bob").connected);
  remaining = f.presence->UnregisterSession("bob", "sock-1", "gw-b");
  REQUIRE(remaining.ok());
  CHECK(*remaining == 0);
}
