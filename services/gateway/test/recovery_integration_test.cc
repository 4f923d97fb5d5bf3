// Integration tests against a real Redis: connection state recovery of user and room events
// (RedisRecoveryStore over the bus streams) and idempotent Publish through the gRPC service.
#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <grpcpp/grpcpp.h>

#include "sb/bus/channels.h"
#include "sb/bus/publisher.h"
#include "sb/common/blocking_pool.h"
#include "sb/redis/client.h"
#include "sb/rpc/client.h"
#include "sb/rpc/server.h"
#include "sb/testing/servers.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/realtime.h"
#include "services/gateway/redis_recovery_store.h"

namespace {

namespace json = boost::json;
namespace pb = ::switchboard::gateway::v1;
using sb::gateway::RedisRecoveryOptions;
using sb::gateway::RedisRecoveryStore;
using sb::socketio::server::SessionState;

struct Fixture {
  Fixture() {
    auto started = sb::testing::RedisServer::Start();
    REQUIRE(started.ok());
    server = *std::move(started);
    auto c = sb::redis::Client::Create({.url = server->url()});
    REQUIRE(c.ok());
    client = *std::move(c);
  }

  sb::bus::Publisher MakePublisher(sb::bus::PublisherOptions options = {}) {
    options.origin = "test/gw";
    auto p = sb::bus::Publisher::Create(*client, options);
    REQUIRE(p.ok());
    return *std::move(p);
  }

  std::unique_ptr<RedisRecoveryStore> MakeStore(int max_replay = 1000,
                                                decltype(RedisRecoveryOptions::vet_session) vet = nullptr) {
    return std::make_unique<RedisRecoveryStore>(
        *client, pool, RedisRecoveryOptions{.max_replay = max_replay, .user_room = sb::gateway::UserRoom,
                                            .restore_retry_delay = std::chrono::milliseconds(0),
                                            .vet_session = std::move(vet)});
  }

  // Saves a dropped socket of `user` in `rooms` (plus its id and user rooms).
  void SaveSession(RedisRecoveryStore& store, const std::string& pid, const std::string& user,
                   std::vector<std::string> rooms) {
    SessionState state;
    state.pid = pid;
    state.sid = "sid-" + pid;
    state.nsp = "/";
    state.rooms = {state.sid, sb::gateway::UserRoom(user)};
    state.rooms.insert(state.rooms.end(), rooms.begin(), rooms.end());
    state.data = json::object{{"user", user}, {"username", user}};
    REQUIRE(store.SaveNow(state).ok());
  }

  std::unique_ptr<sb::testing::RedisServer> server;
  std::unique_ptr<sb::redis::Client> client;
  sb::BlockingPool pool{"test", 2, 100};
};

// The published events: offset, name, Socket.IO room.
struct Sent {
  std::string offset, name, room;
};

}  // namespace

TEST_CASE("recovery replays missed user and room events merged in offset order, exactly once") {
  Fixture f;
  auto publisher = f.MakePublisher();
  auto store = f.MakeStore();
  std::vector<Sent> sent;
  auto to_user = [&](const std::string& user, const std::string& name) {
    auto offset = publisher.PublishToUser(user, name, R"({"k":"u"})");
    REQUIRE(offset.ok());
    if (user == "ann") sent.push_back({*offset, name, "user:ann"});
  };
  auto to_room = [&](const std::string& room, const std::string& name, bool ann_in_it) {
    auto published = publisher.PublishToRoom(room, name, R"({"k":"r"})");
    REQUIRE(published.ok());
    if (ann_in_it) sent.push_back({published->offset, name, room});
  };

  to_user("ann", "u0");
  to_room("public:news", "r0", true);
  const size_t cut = sent.size() - 1;  // the last event ann received before dropping
  // While ann is away: interleaved events to her, her rooms, and to others she must not get.
  to_room("public:news", "r1", true);
  to_user("ann", "u1");
  to_user("bob", "bob-only");
  to_room("conversation:9", "r2", true);
  to_room("public:sports", "not-joined", false);
  to_user("ann", "u2");
  to_room("public:news", "r3", true);
  REQUIRE(publisher.PublishToUsers({"ann"}, "sb:control:x", "{}").ok());  // internal: never replayed

  f.SaveSession(*store, "p1", "ann", {"public:news", "conversation:9", "presence:zed"});
  auto session = store->RestoreNow("/", "p1", sent[cut].offset);
  REQUIRE(session.has_value());
  CHECK(session->state.sid == "sid-p1");
  REQUIRE(session->missed.size() == sent.size() - cut - 1);
  for (size_t i = 0; i < session->missed.size(); ++i) {
    const Sent& expected = sent[cut + 1 + i];
    const auto& packet = session->missed[i];
    CHECK(packet.event == expected.name);
    CHECK(packet.offset == expected.offset);
    REQUIRE(packet.rooms.size() == 1);
    CHECK(packet.rooms[0] == expected.room);
    REQUIRE(packet.args.size() == 1);
    CHECK(packet.args[0].as_object().at("k").as_string() == (expected.room == "user:ann" ? "u" : "r"));
  }
  CHECK(store->restored() == 1);

  // The session is consumed: a second restore finds nothing.
  CHECK_FALSE(store->RestoreNow("/", "p1", sent[cut].offset).has_value());

  // Caught up: nothing to replay, still recovered.
  f.SaveSession(*store, "p2", "ann", {"public:news", "conversation:9"});
  auto caught_up = store->RestoreNow("/", "p2", sent.back().offset);
  REQUIRE(caught_up.has_value());
  CHECK(caught_up->missed.empty());
}

TEST_CASE("recovery refuses when a room stream was trimmed past the offset or too much was missed") {
  Fixture f;
  auto publisher = f.MakePublisher({.exact_trim = true, .room_stream_max_length = 3});
  auto store = f.MakeStore(/*max_replay=*/4);
  auto start = publisher.PublishToUser("cy", "start", "{}");
  REQUIRE(start.ok());
  for (int i = 0; i < 5; ++i) REQUIRE(publisher.PublishToRoom("public:busy", "r" + std::to_string(i), "{}").ok());

  f.SaveSession(*store, "p1", "cy", {"public:busy"});
  CHECK_FALSE(store->RestoreNow("/", "p1", *start).has_value());  // r0, r1 trimmed

  // Not in that room: its trimming does not matter.
  f.SaveSession(*store, "p2", "cy", {"public:quiet"});
  auto unaffected = store->RestoreNow("/", "p2", *start);
  REQUIRE(unaffected.has_value());
  CHECK(unaffected->missed.empty());

  // 5 user events missed with max_replay 4: the client resyncs instead of getting part of them.
  auto mark = publisher.PublishToUser("cy", "mark", "{}");
  REQUIRE(mark.ok());
  for (int i = 0; i < 5; ++i) REQUIRE(publisher.PublishToUser("cy", "n" + std::to_string(i), "{}").ok());
  f.SaveSession(*store, "p3", "cy", {});
  CHECK_FALSE(store->RestoreNow("/", "p3", *mark).has_value());

  // An offset this Redis never issued.
  f.SaveSession(*store, "p4", "cy", {});
  CHECK_FALSE(store->RestoreNow("/", "p4", "99999999999999-0").has_value());
  CHECK(store->not_recovered() == 3);
}

TEST_CASE("a vetted-out room's missed events are never read; the vetting answers from another thread") {
  Fixture f;
  auto publisher = f.MakePublisher();
  std::vector<std::thread> checkers;  // the vetting answers from its own thread, as a gRPC callback would
  std::vector<std::string> vetted_users;
  auto store = f.MakeStore(1000, [&](const std::string& user, SessionState state, RedisRecoveryOptions::VetDone done) {
    vetted_users.push_back(user);
    checkers.emplace_back([state = std::move(state), done = std::move(done)]() mutable {
      std::erase(state.rooms, "conversation:9");  // removed from it while away
      state.data.as_object()["vetted"] = true;
      done(std::move(state));
    });
  });
  auto cut = publisher.PublishToUser("dee", "u0", "{}");
  REQUIRE(cut.ok());
  auto gone = publisher.PublishToRoom("conversation:9", "c9", "{}");
  auto kept = publisher.PublishToRoom("conversation:8", "c8", "{}");
  auto mine = publisher.PublishToUser("dee", "u1", "{}");
  REQUIRE((gone.ok() && kept.ok() && mine.ok()));

  f.SaveSession(*store, "p1", "dee", {"conversation:9", "conversation:8"});
  std::promise<std::optional<sb::socketio::server::RecoveredSession>> restored;
  store->Restore("/", "p1", *cut, [&](auto session) { restored.set_value(std::move(session)); });
  auto session = restored.get_future().get();
  for (auto& t : checkers) t.join();
  REQUIRE(session.has_value());
  CHECK(vetted_users == std::vector<std::string>{"dee"});
  CHECK(std::find(session->state.rooms.begin(), session->state.rooms.end(), "conversation:9") ==
        session->state.rooms.end());
  CHECK(session->state.data.as_object().at("vetted").as_bool());
  std::vector<std::string> replayed;
  for (const auto& packet : session->missed) replayed.push_back(packet.event);
  CHECK(replayed == std::vector<std::string>{"c8", "u1"});

  // The blocking form waits for the vetting the same way.
  f.SaveSession(*store, "p2", "dee", {"conversation:9", "conversation:8"});
  auto again = store->RestoreNow("/", "p2", *cut);
  for (auto& t : checkers) {
    if (t.joinable()) t.join();
  }
  REQUIRE(again.has_value());
  CHECK(again->missed.size() == 2);
}

TEST_CASE("Publish with an event_id retried after a partial failure reaches every user exactly once") {
  Fixture f;
  auto publisher = f.MakePublisher();
  sb::BlockingPool pool("grpc", 2, 100);
  sb::gateway::GatewayService service(publisher, *f.client, pool, "gw-test", [] { return sb::gateway::RealtimeStats{}; });
  sb::rpc::Server server({.host = "127.0.0.1", .port = 0, .interceptor = false});
  server.AddService(&service);
  REQUIRE(server.Start().ok());
  auto channel = sb::rpc::MakeChannel(server.address(), {});
  REQUIRE(channel.ok());
  auto stub = pb::GatewayService::NewStub(*channel);

  auto publish = [&](std::vector<std::string> users, const std::string& event_id, pb::PublishResponse* response) {
    pb::PublishRequest request;
    for (auto& u : users) request.mutable_users()->add_user_ids(u);
    request.set_event("invoice:paid");
    request.set_payload_json(R"({"invoice":7781})");
    request.set_event_id(event_id);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub->Publish(&context, request, response);
  };

  // The first attempt got through for two users only (as if the call failed midway), then the
  // caller retries the whole list with the same id.
  pb::PublishResponse first, retry;
  REQUIRE(publish({"u1", "u2"}, "invoice-7781-paid", &first).ok());
  REQUIRE(publish({"u1", "u2", "u3", "u4"}, "invoice-7781-paid", &retry).ok());
  REQUIRE(retry.offsets_size() == 4);
  CHECK(retry.offsets(0) == first.offsets(0));
  CHECK(retry.offsets(1) == first.offsets(1));
  for (const char* user : {"u1", "u2", "u3", "u4"}) {
    auto read = sb::bus::ReadUserStream(*f.client, user, "0-0", 10);
    REQUIRE(read.ok());
    CHECK(read->events.size() == 1);
  }

  // Without an id a retry duplicates (the documented at-least-once default).
  pb::PublishResponse plain;
  REQUIRE(publish({"u5"}, "", &plain).ok());
  REQUIRE(publish({"u5"}, "", &plain).ok());
  CHECK(sb::bus::ReadUserStream(*f.client, "u5", "0-0", 10)->events.size() == 2);

  pb::PublishResponse bad;
  auto status = publish({"u1"}, std::string(129, 'x'), &bad);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message().find("event_id") != std::string::npos);
  server.Drain(absl::Now() + absl::Seconds(2));
}
