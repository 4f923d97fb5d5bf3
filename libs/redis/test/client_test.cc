#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "sb/redis/client.h"
#include "sb/redis/script.h"
#include "sb/testing/servers.h"

using sb::redis::Client;
using sb::redis::ClientOptions;
using sb::redis::Reply;
using sb::redis::Script;

namespace {

std::unique_ptr<Client> MakeClient(const sb::testing::RedisServer& server, int pool_size = 4) {
  ClientOptions options;
  options.url = server.url();
  options.pool_size = pool_size;
  options.command_timeout = absl::Seconds(2);
  auto client = Client::Create(options);
  REQUIRE(client.ok());
  return *std::move(client);
}

std::unique_ptr<sb::testing::RedisServer> StartRedis() {
  auto server = sb::testing::RedisServer::Start();
  REQUIRE(server.ok());
  return *std::move(server);
}

}  // namespace

TEST_CASE("commands return typed replies and are binary safe") {
  auto server = StartRedis();
  auto client = MakeClient(*server);

  const std::string binary("a\0b\r\nc", 6);
  REQUIRE(client->Command({"SET", "k", binary}).ok());
  auto got = client->Command({"GET", "k"});
  REQUIRE(got.ok());
  CHECK(got->is_string());
  CHECK(got->str == binary);

  auto missing = client->Command({"GET", "nope"});
  REQUIRE(missing.ok());
  CHECK(missing->is_nil());

  auto incr = client->Command({"INCRBY", "n", "41"});
  REQUIRE(incr.ok());
  CHECK(*incr->AsInteger() == 41);

  REQUIRE(client->Command({"RPUSH", "l", "x", "y"}).ok());
  auto list = client->Command({"LRANGE", "l", "0", "-1"});
  REQUIRE(list.ok());
  CHECK(*list == Reply::Array({Reply::String("x"), Reply::String("y")}));

  CHECK(client->Ping().ok());
}

TEST_CASE("a pipeline sends all commands and returns the replies in order") {
  auto server = StartRedis();
  auto client = MakeClient(*server);

  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 200; ++i) commands.push_back({"INCR", "counter"});
  commands.push_back({"GET", "counter"});
  auto replies = client->Pipeline(commands);
  REQUIRE(replies.ok());
  REQUIRE(replies->size() == 201);
  for (int i = 0; i < 200; ++i) CHECK((*replies)[i].integer == i + 1);
  CHECK(replies->back().str == "200");

  auto empty = client->Pipeline({});
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("errors from Redis surface as errors") {
  auto server = StartRedis();
  auto client = MakeClient(*server);
  REQUIRE(client->Command({"SET", "s", "text"}).ok());

  auto wrong_type = client->Command({"LPUSH", "s", "x"});
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(wrong_type.status().message().find("WRONGTYPE") != std::string::npos);

  auto not_int = client->Command({"INCR", "s"});
  REQUIRE_FALSE(not_int.ok());
  CHECK(not_int.status().message().find("not an integer") != std::string::npos);

  CHECK(client->Command({"NOSUCHCOMMAND"}).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(client->Command({}).status().code() == absl::StatusCode::kInvalidArgument);

  // In a pipeline the failing command's error stays in place and the others still run.
  auto replies = client->Pipeline({{"INCR", "s"}, {"SET", "after", "1"}, {"GET", "after"}});
  REQUIRE(replies.ok());
  CHECK((*replies)[0].is_error());
  CHECK((*replies)[1].str == "OK");
  CHECK((*replies)[2].str == "1");

  // The connection is still good after error replies.
  CHECK(client->Ping().ok());
}

TEST_CASE("scripts run by SHA and fall back to EVAL after SCRIPT FLUSH and a restart") {
  auto server = StartRedis();
  auto client = MakeClient(*server);
  Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");

  auto loaded = client->Command({"SCRIPT", "LOAD", script.source()});
  REQUIRE(loaded.ok());
  CHECK(loaded->str == script.sha1());  // our SHA1 is the one Redis computes

  auto first = script.Run(*client, {"n"}, {"5"});
  REQUIRE(first.ok());
  CHECK(first->integer == 5);

  REQUIRE(client->Command({"SCRIPT", "FLUSH"}).ok());
  auto after_flush = script.Run(*client, {"n"}, {"2"});
  REQUIRE(after_flush.ok());
  CHECK(after_flush->integer == 7);  // ran exactly once despite the NOSCRIPT
  auto exists = client->Command({"SCRIPT", "EXISTS", script.sha1()});
  REQUIRE(exists.ok());
  CHECK(exists->elements.at(0).integer == 1);  // EVAL cached it again

  REQUIRE(server->Restart().ok());
  auto after_restart = script.Run(*client, {"fresh"}, {"3"});
  REQUIRE(after_restart.ok());
  CHECK(after_restart->integer == 3);

  // Pipelined invocations after another flush: every one falls back and runs once.
  REQUIRE(client->Command({"SCRIPT", "FLUSH"}).ok());
  std::vector<Script::Invocation> calls(10, Script::Invocation{{"p"}, {"1"}});
  auto many = script.RunPipelined(*client, calls);
  REQUIRE(many.ok());
  REQUIRE(many->size() == 10);
  for (int i = 0; i < 10; ++i) CHECK((*many)[i].integer == i + 1);

  Script broken("return redis.call('NOSUCHCOMMAND')");
  auto failed = broken.Run(*client, {}, {});
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("the pool recovers after Redis restarts or is killed, and fails fast while it is down") {
  auto server = StartRedis();
  auto client = MakeClient(*server, 4);

  // Open several pooled connections so that stale idle ones exist after the restart.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) (void)client->Command({"INCR", "warm"});
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(client->open_connections() >= 1);

  REQUIRE(server->Restart().ok());
  // Stale idle connections are detected before use: the very first call after the restart works.
  auto after = client->Command({"SET", "k", "v"});
  REQUIRE(after.ok());
  CHECK(after->str == "OK");

  REQUIRE(server->Kill().ok());
  auto down = client->Command({"GET", "k"});
  REQUIRE_FALSE(down.ok());
  CHECK(down.status().code() == absl::StatusCode::kUnavailable);
  CHECK(client->Pipeline({{"PING"}}).status().code() == absl::StatusCode::kUnavailable);

  REQUIRE(server->Resume().ok());
  CHECK(client->Ping().ok());
  CHECK(client->Command({"SET", "k", "again"}).ok());
}

TEST_CASE("the pool is bounded and shared safely by many threads") {
  auto server = StartRedis();
  auto client = MakeClient(*server, 2);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!client->Command({"INCR", "shared"}).ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(client->open_connections() <= 2);
  CHECK(client->Command({"GET", "shared"})->str == "400");
}

TEST_CASE("a command exceeding the timeout fails with DeadlineExceeded and the pool stays usable") {
  auto server = StartRedis();
  ClientOptions options;
  options.url = server->url();
  options.pool_size = 1;
  options.command_timeout = absl::Milliseconds(300);
  auto client = Client::Create(options);
  REQUIRE(client.ok());

  auto blocked = (*client)->Command({"BLPOP", "empty", "2"});
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.status().code() == absl::StatusCode::kDeadlineExceeded);
  // The timed-out connection was discarded, so no late BLPOP reply can be mistaken for this one.
  auto next = (*client)->Command({"ECHO", "hello"});
  REQUIRE(next.ok());
  CHECK(next->str == "hello");
}

TEST_CASE("Create validates options without connecting") {
  CHECK(Client::Create({.url = "nope"}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Client::Create({.url = "redis://h:1", .pool_size = 0}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // Nothing listens on this port: creation still succeeds, calls fail with Unavailable.
  auto client = Client::Create({.url = "redis://127.0.0.1:" + std::to_string(sb::testing::FreePort())});
  REQUIRE(client.ok());
  CHECK((*client)->Ping().code() == absl::StatusCode::kUnavailable);
}
