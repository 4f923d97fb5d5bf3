// UsersWithLiveSessions against a real, private Redis: a user is live exactly while some
// connection is subscribed to their channel sb:u:{user}.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/bus/liveness.h"
#include "sb/redis/client.h"
#include "sb/redis/subscriber.h"
#include "sb/testing/servers.h"

TEST_CASE("UsersWithLiveSessions follows the gateways' user channel subscriptions", "[bus][integration]") {
  auto server = sb::testing::RedisServer::Start();
  REQUIRE(server.ok());
  auto client = sb::redis::Client::Create({.url = (*server)->url()});
  REQUIRE(client.ok());

  // Nobody subscribed: nobody live; the empty list is fine.
  auto none = sb::bus::UsersWithLiveSessions(**client, {"ana", "bo"});
  REQUIRE(none.ok());
  CHECK(*none == std::vector<bool>{false, false});
  auto empty = sb::bus::UsersWithLiveSessions(**client, {});
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  // A subscriber standing in for a gateway holding sockets of "bo" and of user 1500.
  sb::redis::SubscriberOptions options;
  options.url = (*server)->url();
  auto subscriber = sb::redis::Subscriber::Create(options, [](const std::string&, const std::string&) {});
  REQUIRE(subscriber.ok());
  (*subscriber)->Subscribe(*sb::bus::UserChannel("bo"));
  (*subscriber)->Subscribe(*sb::bus::UserChannel("u1500"));
  REQUIRE((*subscriber)->WaitUntilSynced(absl::Seconds(5)));

  auto some = sb::bus::UsersWithLiveSessions(**client, {"ana", "bo", "bo"});
  REQUIRE(some.ok());
  CHECK(*some == std::vector<bool>{false, true, true});

  // More users than one command carries: the answers stay in order across commands.
  std::vector<std::string> many;
  for (int i = 0; i < 2500; ++i) many.push_back(absl::StrCat("u", i));
  auto flags = sb::bus::UsersWithLiveSessions(**client, many);
  REQUIRE(flags.ok());
  REQUIRE(flags->size() == 2500);
  for (int i = 0; i < 2500; ++i) CHECK((*flags)[i] == (i == 1500));

  (*subscriber)->Unsubscribe(*sb::bus::UserChannel("bo"));
  REQUIRE((*subscriber)->WaitUntilSynced(absl::Seconds(5)));
  auto after = sb::bus::UsersWithLiveSessions(**client, {"bo"});
  REQUIRE(after.ok());
  CHECK(*after == std::vector<bool>{false});

  // A bad id is refused before asking Redis.
  CHECK(absl::IsInvalidArgument(sb::bus::UsersWithLiveSessions(**client, {""}).status()));
}
