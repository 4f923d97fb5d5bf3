#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <utility>
#include <vector>

#include "sb/redis/client.h"
#include "sb/redis/subscriber.h"
#include "sb/testing/servers.h"

using sb::redis::Client;
using sb::redis::Subscriber;
using sb::redis::SubscriberOptions;

namespace {

// Collects (channel, payload) pairs from the subscriber thread; tests wait on it.
class Inbox {
 public:
  void Add(const std::string& channel, const std::string& payload) {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.emplace_back(channel, payload);
    cv_.notify_all();
  }
  bool WaitFor(const std::string& channel, const std::string& payload,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return Contains(channel, payload); });
  }
  bool Has(const std::string& channel, const std::string& payload) {
    std::lock_guard<std::mutex> lock(mu_);
    return Contains(channel, payload);
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_.size();
  }

 private:
  bool Contains(const std::string& channel, const std::string& payload) const {
    for (const auto& m : messages_) {
      if (m.first == channel && m.second == payload) return true;
    }
    return false;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> messages_;
};

SubscriberOptions FastOptions(const std::string& url) {
  SubscriberOptions options;
  options.url = url;
  options.backoff_initial = absl::Milliseconds(20);
  options.backoff_max = absl::Milliseconds(200);
  return options;
}

int64_t Publish(Client& client, const std::string& channel, const std::string& payload) {
  auto reply = client.Command({"PUBLISH", channel, payload});
  REQUIRE(reply.ok());
  return reply->integer;  // number of receiving subscribers
}

bool WaitForReconnects(Subscriber& s, uint64_t count) {
  for (int i = 0; i < 500 && s.reconnects() < count; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return s.reconnects() >= count;
}

}  // namespace

TEST_CASE("the subscriber receives messages on channels and patterns, binary safe") {
  auto server = sb::testing::RedisServer::Start();
  REQUIRE(server.ok());
  auto client = Client::Create({.url = (*server)->url()});
  REQUIRE(client.ok());

  Inbox inbox;
  auto sub = Subscriber::Create(FastOptions((*server)->url()),
                                [&](const std::string& c, const std::string& p) { inbox.Add(c, p); });
  REQUIRE(sub.ok());
  (*sub)->Subscribe("news");
  (*sub)->PSubscribe("room:*");
  REQUIRE((*sub)->WaitUntilSynced(absl::Seconds(5)));
  CHECK((*sub)->connected());

  const std::string binary("x\0y\n", 4);
  CHECK(Publish(**client, "news", binary) == 1);
  CHECK(Publish(**client, "room:42", "hello") == 1);
  CHECK(inbox.WaitFor("news", binary));
  CHECK(inbox.WaitFor("room:42", "hello"));
}

TEST_CASE("Unsubscribe stops delivery") {
  auto server = sb::testing::RedisServer::Start();
  REQUIRE(server.ok());
  auto client = Client::Create({.url = (*server)->url()});
  REQUIRE(client.ok());
  Inbox inbox;
  auto sub = Subscriber::Create(FastOptions((*server)->url()),
                                [&](const std::string& c, const std::string& p) { inbox.Add(c, p); });
  REQUIRE(sub.ok());
  (*sub)->Subscribe("a");
  (*sub)->Subscribe("b");
  REQUIRE((*sub)->WaitUntilSynced(absl::Seconds(5)));
  Publish(**client, "a", "1");
  REQUIRE(inbox.WaitFor("a", "1"));

  (*sub)->Unsubscribe("a");
  REQUIRE((*sub)->WaitUntilSynced(absl::Seconds(5)));
  CHECK(Publish(**client, "a", "2") == 0);  // the server no longer has us on "a"
  CHECK(Publish(**client, "b", "marker") == 1);
  REQUIRE(inbox.WaitFor("b", "marker"));  // delivered in order, so "a"/"2" would have come first
  CHECK_FALSE(inbox.Has("a", "2"));
}

TEST_CASE("after a Redis restart or kill the subscriber resubscribes everything and delivers") {
  auto server = sb::testing::RedisServer::Start();
  REQUIRE(server.ok());
  auto& redis = **server;
  auto client = Client::Create({.url = redis.url()});
  REQUIRE(client.ok());

  Inbox inbox;
  std::mutex connects_mu;
  std::vector<bool> connects;  // the connect handler's `reconnect` flags
  auto sub = Subscriber::Create(
      FastOptions(redis.url()), [&](const std::string& c, const std::string& p) { inbox.Add(c, p); },
      [&](bool reconnect) {
        std::lock_guard<std::mutex> lock(connects_mu);
        connects.push_back(reconnect);
      });
  REQUIRE(sub.ok());
  Subscriber& s = **sub;
  const std::vector<std::string> channels = {"sb:u:alice", "sb:u:bob", "sb:r:lobby",
                                            std::string("c\xff" "\0" "d", 4)};
  for (const auto& c : channels) s.Subscribe(c);
  s.PSubscribe("sb:p:*");
  REQUIRE(s.WaitUntilSynced(absl::Seconds(5)));
  CHECK(s.reconnects() == 0);

  SECTION("graceful restart") { REQUIRE(redis.Restart().ok()); }
  SECTION("kill and resume") {
    REQUIRE(redis.Kill().ok());
    REQUIRE(redis.Resume().ok());
  }

  REQUIRE(WaitForReconnects(s, 1));
  REQUIRE(s.WaitUntilSynced(absl::Seconds(5)));
  for (const auto& c : channels) {
    CHECK(Publish(**client, c, "after-" + c) == 1);
    CHECK(inbox.WaitFor(c, "after-" + c));
  }
  CHECK(Publish(**client, "sb:p:carol", "online") == 1);
  CHECK(inbox.WaitFor("sb:p:carol", "online"));

  {
    std::lock_guard<std::mutex> lock(connects_mu);
    REQUIRE(connects.size() >= 2);
    CHECK(connects.front() == false);
    CHECK(connects.back() == true);
  }

  // And once more: a second outage is survived the same way.
  REQUIRE(redis.Kill().ok());
  REQUIRE(redis.Resume().ok());
  REQUIRE(WaitForReconnects(s, 2));
  REQUIRE(s.WaitUntilSynced(absl::Seconds(5)));
  CHECK(Publish(**client, "sb:u:alice", "second") == 1);
  CHECK(inbox.WaitFor("sb:u:alice", "second"));
}

TEST_CASE("a subscriber created while Redis is down connects when it comes up") {
  auto server = sb::testing::RedisServer::Start();
  REQUIRE(server.ok());
  REQUIRE((*server)->Stop().ok());
  Inbox inbox;
  auto sub = Subscriber::Create(FastOptions((*server)->url()),
                                [&](const std::string& c, const std::string& p) { inbox.Add(c, p); });
  REQUIRE(sub.ok());
  (*sub)->Subscribe("late");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE((*sub)->connected());

  REQUIRE((*server)->Resume().ok());
  REQUIRE((*sub)->WaitUntilSynced(absl::Seconds(5)));
  auto client = Client::Create({.url = (*server)->url()});
  REQUIRE(client.ok());
  CHECK(Publish(**client, "late", "hi") == 1);
  CHECK(inbox.WaitFor("late", "hi"));
  CHECK((*sub)->reconnects() == 0);  // the first successful connection is not a reconnect
}

TEST_CASE("keep-alive PINGs on an idle subscription do not disturb it") {
  auto server = sb::testing::RedisServer::Start();
  REQUIRE(server.ok());
  auto client = Client::Create({.url = (*server)->url()});
  REQUIRE(client.ok());
  Inbox inbox;
  SubscriberOptions options = FastOptions((*server)->url());
  options.ping_interval = absl::Milliseconds(50);
  options.io_timeout = absl::Milliseconds(500);
  auto sub = Subscriber::Create(options, [&](const std::string& c, const std::string& p) { inbox.Add(c, p); });
  REQUIRE(sub.ok());
  (*sub)->Subscribe("quiet");
  REQUIRE((*sub)->WaitUntilSynced(absl::Seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // several ping rounds
  CHECK((*sub)->reconnects() == 0);
  CHECK(Publish(**client, "quiet", "still here") == 1);
  CHECK(inbox.WaitFor("quiet", "still here"));
  CHECK(inbox.size() == 1);  // PONGs are not delivered as messages
}
