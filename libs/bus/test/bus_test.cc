#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sb/bus/channels.h"
#include "sb/bus/publisher.h"
#include "sb/bus/subscriber.h"
#include "sb/redis/client.h"
#include "sb/testing/servers.h"

using namespace sb::bus;
using sb::redis::Client;

namespace {

// Events received by a BusSubscriber, for tests to wait on.
class Inbox {
 public:
  void Add(const std::string& channel, const Event& event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.emplace_back(channel, event);
    cv_.notify_all();
  }
  // The first event on `channel` named `name`, waiting up to 5 s.
  std::optional<Event> WaitFor(const std::string& channel, const std::string& name) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<Event> found;
    cv_.wait_for(lock, std::chrono::seconds(5), [&] {
      found = Find(channel, name);
      return found.has_value();
    });
    return found;
  }
  bool Has(const std::string& channel, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return Find(channel, name).has_value();
  }
  int Count(const std::string& channel, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [c, e] : events_) n += c == channel && e.name() == name;
    return n;
  }

 private:
  std::optional<Event> Find(const std::string& channel, const std::string& name) const {
    for (const auto& [c, e] : events_) {
      if (c == channel && e.name() == name) return e;
    }
    return std::nullopt;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, Event>> events_;
};

struct Fixture {
  Fixture() {
    auto started = sb::testing::RedisServer::Start();
    REQUIRE(started.ok());
    server = *std::move(started);
    auto c = Client::Create({.url = server->url()});
    REQUIRE(c.ok());
    client = *std::move(c);
  }

  Publisher MakePublisher(PublisherOptions options = {}) {
    if (options.origin.empty()) options.origin = "test/1";
    auto p = Publisher::Create(*client, options);
    REQUIRE(p.ok());
    return *std::move(p);
  }

  std::unique_ptr<BusSubscriber> MakeSubscriber(Inbox& inbox) {
    sb::redis::SubscriberOptions options;
    options.url = server->url();
    options.backoff_initial = absl::Milliseconds(20);
    options.backoff_max = absl::Milliseconds(200);
    auto s = BusSubscriber::Create(options, [&inbox](const std::string& c, const Event& e) { inbox.Add(c, e); });
    REQUIRE(s.ok());
    return *std::move(s);
  }

  int64_t NumSub(const std::string& channel) {
    auto reply = client->Command({"PUBSUB", "NUMSUB", channel});
    REQUIRE(reply.ok());
    return reply->elements.at(1).integer;
  }

  std::unique_ptr<sb::testing::RedisServer> server;
  std::unique_ptr<Client> client;
};

}  // namespace

TEST_CASE("a user event reaches the subscriber decoded, with the stream id as offset") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  Inbox inbox;
  auto sub = f.MakeSubscriber(inbox);
  sub->Subscribe(*UserChannel("alice"));
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));

  const int64_t before_ms = absl::ToUnixMillis(absl::Now());
  auto offset = publisher.PublishToUser("alice", "message:new", R"({"text":"hi"})");
  REQUIRE(offset.ok());
  auto event = inbox.WaitFor("sb:u:alice", "message:new");
  REQUIRE(event.has_value());
  CHECK(event->offset() == *offset);
  CHECK(event->version() == 1u);
  CHECK(event->id().size() == 32);
  CHECK(event->payload_json() == R"({"text":"hi"})");
  CHECK(event->target() == "u:alice");
  CHECK(event->origin() == "test/1");
  CHECK(event->timestamp_ms() >= before_ms);

  // The same event sits in the stream under that id, and the stream has a TTL.
  auto read = ReadUserStream(*f.client, "alice", "0-0", 10);
  REQUIRE(read.ok());
  REQUIRE(read->events.size() == 1);
  CHECK(read->events[0].offset() == *offset);
  CHECK(read->events[0].id() == event->id());
  auto ttl = f.client->Command({"TTL", "sb:s:u:alice"});
  REQUIRE(ttl.ok());
  CHECK(ttl->integer > 0);
  CHECK(ttl->integer <= 24 * 3600);
}

TEST_CASE("ReadUserStream returns exactly the events after the offset, in order") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  std::vector<std::string> offsets;
  for (int i = 0; i < 6; ++i) {
    auto offset = publisher.PublishToUser("bob", "n" + std::to_string(i), "{}");
    REQUIRE(offset.ok());
    offsets.push_back(*offset);
  }

  auto read = ReadUserStream(*f.client, "bob", offsets[1], 100);
  REQUIRE(read.ok());
  CHECK(read->recoverable);
  REQUIRE(read->events.size() == 4);
  for (int i = 0; i < 4; ++i) {
    CHECK(read->events[i].name() == "n" + std::to_string(i + 2));
    CHECK(read->events[i].offset() == offsets[i + 2]);
  }

  auto page = ReadUserStream(*f.client, "bob", offsets[1], 2);
  REQUIRE(page.ok());
  REQUIRE(page->events.size() == 2);
  CHECK(page->events[1].offset() == offsets[3]);

  auto caught_up = ReadUserStream(*f.client, "bob", offsets.back(), 100);
  REQUIRE(caught_up.ok());
  CHECK(caught_up->events.empty());
  CHECK(caught_up->recoverable);

  CHECK(ReadUserStream(*f.client, "bob", "garbage", 10).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReadUserStream(*f.client, "bob", "1-2-3", 10).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ReadUserStream(*f.client, "bob", offsets[0], 0).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("streams are bounded and trimmed offsets are reported as not recoverable") {
  Fixture f;
  Publisher publisher = f.MakePublisher({.max_stream_length = 3, .exact_trim = true});
  std::vector<std::string> offsets;
  for (int i = 0; i < 10; ++i) {
    auto offset = publisher.PublishToUser("carol", "n" + std::to_string(i), "{}");
    REQUIRE(offset.ok());
    offsets.push_back(*offset);
  }
  CHECK(f.client->Command({"XLEN", "sb:s:u:carol"})->integer == 3);

  auto trimmed = ReadUserStream(*f.client, "carol", offsets[2], 100);  // 3..6 are gone
  REQUIRE(trimmed.ok());
  CHECK_FALSE(trimmed->recoverable);
  REQUIRE(trimmed->events.size() == 3);  // what is left is still returned
  CHECK(trimmed->events[0].offset() == offsets[7]);

  auto intact = ReadUserStream(*f.client, "carol", offsets[7], 100);
  REQUIRE(intact.ok());
  CHECK(intact->recoverable);
  CHECK(intact->events.size() == 2);

  // A stream that does not exist holds nothing to miss; an offset never issued is not recoverable.
  auto missing = ReadUserStream(*f.client, "nobody", offsets[0], 100);
  REQUIRE(missing.ok());
  CHECK(missing->recoverable);
  CHECK(missing->events.empty());
  auto future = ReadUserStream(*f.client, "carol", "99999999999999-0", 100);
  REQUIRE(future.ok());
  CHECK_FALSE(future->recoverable);

  // The default approximate trim still bounds the stream.
  Publisher approx = f.MakePublisher({.max_stream_length = 10});
  for (int i = 0; i < 400; ++i) REQUIRE(approx.PublishToUser("dave", "x", "{}").ok());
  CHECK(f.client->Command({"XLEN", "sb:s:u:dave"})->integer < 400);
}

TEST_CASE("subscriptions are reference counted") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  Inbox inbox;
  auto sub = f.MakeSubscriber(inbox);
  const std::string room = *RoomChannel("lobby");
  const std::string marker = *RoomChannel("marker");
  sub->Subscribe(marker);
  sub->Subscribe(room);
  sub->Subscribe(room);
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));
  CHECK(f.NumSub(room) == 1);  // one Redis subscription however many references

  sub->Unsubscribe(room);
  CHECK(sub->references(room) == 1);
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));
  CHECK(f.NumSub(room) == 1);
  REQUIRE(publisher.PublishToRoom("lobby", "still", "{}").ok());
  CHECK(inbox.WaitFor(room, "still").has_value());

  sub->Unsubscribe(room);
  CHECK(sub->references(room) == 0);
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));
  CHECK(f.NumSub(room) == 0);
  REQUIRE(publisher.PublishToRoom("lobby", "gone", "{}").ok());
  REQUIRE(publisher.PublishToRoom("marker", "marker", "{}").ok());
  REQUIRE(inbox.WaitFor(marker, "marker").has_value());  // in order: "gone" would precede it
  CHECK_FALSE(inbox.Has(room, "gone"));

  sub->Unsubscribe(room);  // no references left: a no-op
  CHECK(sub->references(room) == 0);
}

TEST_CASE("room events get a stream and an offset; presence events are publish-only") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  Inbox inbox;
  auto sub = f.MakeSubscriber(inbox);
  sub->Subscribe(*RoomChannel("r1"));
  sub->Subscribe(*PresenceChannel("erin"));
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));

  auto published = publisher.PublishToRoom("r1", "typing:update", R"({"typing":true})");
  REQUIRE(published.ok());
  CHECK(published->receivers == 1);
  REQUIRE(publisher.PublishPresence("erin", "presence:update", R"({"status":"online"})").ok());

  auto room_event = inbox.WaitFor("sb:r:r1", "typing:update");
  REQUIRE(room_event.has_value());
  CHECK(room_event->offset() == published->offset);
  CHECK(room_event->target() == "r:r1");
  auto read = ReadStreams(*f.client, {*RoomStreamKey("r1")}, "0-0", 10);
  REQUIRE(read.ok());
  REQUIRE(read->events.size() == 1);
  CHECK(read->events[0].offset() == published->offset);
  // Room streams are short-lived: the default TTL is 10 minutes.
  auto ttl = f.client->Command({"TTL", "sb:s:r:r1"});
  REQUIRE(ttl.ok());
  CHECK(ttl->integer > 0);
  CHECK(ttl->integer <= 600);
  auto presence = inbox.WaitFor("sb:p:erin", "presence:update");
  REQUIRE(presence.has_value());
  CHECK(presence->target() == "p:erin");
  CHECK(presence->offset().empty());
  CHECK(f.client->Command({"EXISTS", "sb:s:u:erin"})->integer == 0);
}

TEST_CASE("user and room streams share one id sequence, so one offset splits them all exactly") {
  Fixture f;
  Publisher publisher = f.MakePublisher({.room_stream_max_length = 50});
  // Interleaved user and room events, many within the same millisecond.
  std::vector<std::pair<std::string, std::string>> published;  // offset, name
  for (int i = 0; i < 60; ++i) {
    const std::string name = "e" + std::to_string(i);
    if (i % 3 == 0) {
      auto r = publisher.PublishToRoom(i % 2 ? "lobby" : "news", name, "{}");
      REQUIRE(r.ok());
      published.emplace_back(r->offset, name);
    } else {
      auto o = publisher.PublishToUser("ivy", name, "{}");
      REQUIRE(o.ok());
      published.emplace_back(*o, name);
    }
  }
  for (size_t i = 1; i < published.size(); ++i) {
    CHECK(CompareStreamIds(published[i - 1].first, published[i].first) < 0);  // strictly increasing
  }
  CHECK(f.client->Command({"GET", kLastStreamIdKey})->str == published.back().first);

  const std::vector<std::string> keys = {*UserStreamKey("ivy"), *RoomStreamKey("lobby"), *RoomStreamKey("news"),
                                         *RoomStreamKey("never-used")};
  for (size_t cut : {size_t{0}, size_t{17}, size_t{58}, size_t{59}}) {
    auto read = ReadStreams(*f.client, keys, published[cut].first, 1000);
    REQUIRE(read.ok());
    CHECK(read->recoverable);
    REQUIRE(read->events.size() == published.size() - cut - 1);
    for (size_t i = 0; i < read->events.size(); ++i) {
      CHECK(read->events[i].name() == published[cut + 1 + i].second);
      CHECK(read->events[i].offset() == published[cut + 1 + i].first);
      const size_t source = read->sources[i];
      CHECK(read->events[i].target() == (source == 0 ? "u:ivy" : source == 1 ? "r:lobby" : "r:news"));
    }
  }
  // Paging: the limit keeps the oldest events of the merge.
  auto page = ReadStreams(*f.client, keys, published[10].first, 5);
  REQUIRE(page.ok());
  REQUIRE(page->events.size() == 5);
  CHECK(page->events[0].name() == "e11");
  CHECK(page->events[4].name() == "e15");
  CHECK(ReadStreams(*f.client, {}, "0-0", 1).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a trimmed room stream makes the merged read not recoverable") {
  Fixture f;
  Publisher publisher = f.MakePublisher({.exact_trim = true, .room_stream_max_length = 3});
  auto start = publisher.PublishToUser("jo", "start", "{}");
  REQUIRE(start.ok());
  for (int i = 0; i < 5; ++i) REQUIRE(publisher.PublishToRoom("busy", "r" + std::to_string(i), "{}").ok());
  const std::vector<std::string> keys = {*UserStreamKey("jo"), *RoomStreamKey("busy")};
  auto read = ReadStreams(*f.client, keys, *start, 100);
  REQUIRE(read.ok());
  CHECK_FALSE(read->recoverable);  // r0 and r1 were trimmed
  CHECK(read->events.size() == 3);

  // From an offset at or above the oldest retained entry, nothing is missing.
  auto kept = ReadStreams(*f.client, keys, read->events[0].offset(), 100);
  REQUIRE(kept.ok());
  CHECK(kept->recoverable);
  CHECK(kept->events.size() == 2);
}

TEST_CASE("a publish with an event_id reaches each target once, also when retried") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  Inbox inbox;
  auto sub = f.MakeSubscriber(inbox);
  for (const char* u : {"a1", "a2", "a3"}) sub->Subscribe(*UserChannel(u));
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));

  // The first attempt reached only a1 and a2 (a partial failure), the retry lists everyone.
  auto first = publisher.PublishToUsers({"a1", "a2"}, "feed:update", R"({"n":1})", "evt-42");
  REQUIRE(first.ok());
  auto retry = publisher.PublishToUsers({"a1", "a2", "a3", "a3"}, "feed:update", R"({"n":1})", "evt-42");
  REQUIRE(retry.ok());
  REQUIRE(retry->size() == 4);
  CHECK((*retry)[0] == (*first)[0]);  // the original offsets come back
  CHECK((*retry)[1] == (*first)[1]);
  CHECK((*retry)[2] == (*retry)[3]);  // listed twice, delivered once
  for (const char* u : {"a1", "a2", "a3"}) {
    auto read = ReadUserStream(*f.client, u, "0-0", 10);
    REQUIRE(read.ok());
    REQUIRE(read->events.size() == 1);
    CHECK(read->events[0].id() == "evt-42");
  }
  REQUIRE(inbox.WaitFor("sb:u:a3", "feed:update").has_value());
  REQUIRE(publisher.PublishToUser("a1", "marker", "{}").ok());
  REQUIRE(inbox.WaitFor("sb:u:a1", "marker").has_value());  // in order: a duplicate would precede it
  for (const char* u : {"a1", "a2", "a3"}) CHECK(inbox.Count(std::string("sb:u:") + u, "feed:update") == 1);
  CHECK(f.client->Command({"TTL", "sb:d:evt-42"})->integer > 23 * 3600);

  // Rooms too; another event id is a different event.
  auto room1 = publisher.PublishToRoom("hall", "x", "{}", "evt-43");
  auto room2 = publisher.PublishToRoom("hall", "x", "{}", "evt-43");
  REQUIRE(room1.ok());
  REQUIRE(room2.ok());
  CHECK(room2->offset == room1->offset);
  CHECK(room2->receivers == 0);
  CHECK(f.client->Command({"XLEN", "sb:s:r:hall"})->integer == 1);
  auto other = publisher.PublishToUsers({"a1"}, "feed:update", "{}", "evt-44");
  REQUIRE(other.ok());
  CHECK((*other)[0] != (*first)[0]);
  CHECK(publisher.PublishToUsers({"a1"}, "x", "{}", std::string(129, 'e')).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("PublishToUsers fans one event out to many users") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  Inbox inbox;
  auto sub = f.MakeSubscriber(inbox);
  sub->Subscribe(*UserChannel("u7"));
  sub->Subscribe(*UserChannel("u299"));
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));

  std::vector<std::string> users;
  for (int i = 0; i < 300; ++i) users.push_back("u" + std::to_string(i));  // more than one batch
  auto offsets = publisher.PublishToUsers(users, "notification:new", "{}");
  REQUIRE(offsets.ok());
  REQUIRE(offsets->size() == 300);
  for (int i : {0, 7, 150, 299}) {
    auto read = ReadUserStream(*f.client, users[i], "0-0", 10);
    REQUIRE(read.ok());
    REQUIRE(read->events.size() == 1);
    CHECK(read->events[0].offset() == (*offsets)[i]);
    CHECK(read->events[0].target() == "u:" + users[i]);
  }
  auto e7 = inbox.WaitFor("sb:u:u7", "notification:new");
  auto e299 = inbox.WaitFor("sb:u:u299", "notification:new");
  REQUIRE(e7.has_value());
  REQUIRE(e299.has_value());
  CHECK(e7->offset() == (*offsets)[7]);
  CHECK(e7->id() == e299->id());  // one logical event
}

TEST_CASE("PublishBatch sends several events, each with its own id, in one go") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  auto offsets = publisher.PublishBatch({{{"ann", "ben"}, "message:new", R"({"for":"others"})"},
                                         {{"cat"}, "message:new", R"({"for":"sender"})"}});
  REQUIRE(offsets.ok());
  REQUIRE(offsets->size() == 3);
  auto ann = ReadUserStream(*f.client, "ann", "0-0", 10);
  auto ben = ReadUserStream(*f.client, "ben", "0-0", 10);
  auto cat = ReadUserStream(*f.client, "cat", "0-0", 10);
  REQUIRE((ann.ok() && ben.ok() && cat.ok()));
  REQUIRE((ann->events.size() == 1 && ben->events.size() == 1 && cat->events.size() == 1));
  CHECK(ann->events[0].payload_json() == R"({"for":"others"})");
  CHECK(cat->events[0].payload_json() == R"({"for":"sender"})");
  CHECK(ann->events[0].id() == ben->events[0].id());  // one logical event per entry
  CHECK(ann->events[0].id() != cat->events[0].id());
  CHECK(cat->events[0].offset() == (*offsets)[2]);

  // One bad entry: nothing at all is published.
  auto bad = publisher.PublishBatch({{{"dan"}, "x", "{}"}, {{""}, "x", "{}"}});
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(f.client->Command({"EXISTS", "sb:s:u:dan"})->integer == 0);
}

TEST_CASE("invalid ids are rejected and change nothing") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  CHECK(publisher.PublishToUser("", "x", "{}").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(publisher.PublishToUser(std::string(129, 'a'), "x", "{}").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(publisher.PublishToRoom("", "x", "{}").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(publisher.PublishPresence(std::string(200, 'p'), "x", "{}").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ReadUserStream(*f.client, "", "0-0", 1).status().code() == absl::StatusCode::kInvalidArgument);

  auto batch = publisher.PublishToUsers({"ok-user", ""}, "x", "{}");
  CHECK(batch.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(f.client->Command({"EXISTS", "sb:s:u:ok-user"})->integer == 0);

  CHECK(publisher.PublishToUser("a\xff", "x", "{}").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(publisher.PublishToUser("a", "x", "{\"t\":\"\xff\"}").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(publisher.PublishToUser("a", "", "{}").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(f.client->Command({"EXISTS", "sb:s:u:a"})->integer == 0);

  // Any UTF-8 string up to 128 bytes is a valid id, used verbatim.
  const std::string odd = std::string("we:ird {x}\0\xc3\xa9", 13) + std::string(115, 'z');
  REQUIRE(odd.size() == 128);
  auto offset = publisher.PublishToUser(odd, "x", "{}");
  REQUIRE(offset.ok());
  CHECK(f.client->Command({"EXISTS", "sb:s:u:" + odd})->integer == 1);
  auto read = ReadUserStream(*f.client, odd, "0-0", 10);
  REQUIRE(read.ok());
  REQUIRE(read->events.size() == 1);
  CHECK(read->events[0].target() == "u:" + odd);
}

TEST_CASE("malformed messages on a channel are dropped and counted") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  Inbox inbox;
  auto sub = f.MakeSubscriber(inbox);
  const std::string channel = *UserChannel("frank");
  sub->Subscribe(channel);
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));

  Event future = MakeEvent("from-the-future", "{}", "", "u:frank");
  future.set_version(2);
  REQUIRE(f.client->Command({"PUBLISH", channel, "garbage \xff\xfe"}).ok());
  REQUIRE(f.client->Command({"PUBLISH", channel, future.SerializeAsString()}).ok());
  REQUIRE(publisher.PublishToUser("frank", "valid", "{}").ok());

  REQUIRE(inbox.WaitFor(channel, "valid").has_value());
  CHECK(sub->dropped() == 2);
  CHECK(sub->delivered() == 1);
  CHECK_FALSE(inbox.Has(channel, "from-the-future"));
}

TEST_CASE("bus delivery continues after a Redis restart") {
  Fixture f;
  Publisher publisher = f.MakePublisher();
  Inbox inbox;
  auto sub = f.MakeSubscriber(inbox);
  sub->Subscribe(*UserChannel("gina"));
  sub->Subscribe(*RoomChannel("hall"));
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));
  REQUIRE(publisher.PublishToUser("gina", "before", "{}").ok());
  REQUIRE(inbox.WaitFor("sb:u:gina", "before").has_value());

  REQUIRE(f.server->Restart().ok());
  for (int i = 0; i < 500 && sub->reconnects() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(sub->reconnects() >= 1);
  REQUIRE(sub->WaitUntilSynced(absl::Seconds(5)));

  // The publish script is gone from the restarted server's cache; the publisher reloads it.
  auto offset = publisher.PublishToUser("gina", "after", "{}");
  REQUIRE(offset.ok());
  auto event = inbox.WaitFor("sb:u:gina", "after");
  REQUIRE(event.has_value());
  CHECK(event->offset() == *offset);
  REQUIRE(publisher.PublishToRoom("hall", "room-after", "{}").ok());
  CHECK(inbox.WaitFor("sb:r:hall", "room-after").has_value());
}
