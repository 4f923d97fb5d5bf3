// RunBlocking and AsyncClient against a real in-process server whose handlers do blocking work on
// a deliberately tiny BlockingPool (one thread, one queued task).
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "sb/common/blocking_pool.h"
#include "sb/common/log.h"
#include "sb/rpc/async_client.h"
#include "sb/rpc/blocking.h"
#include "sb/rpc/server.h"
#include "switchboard/testing/v1/echo.grpc.pb.h"

namespace {

namespace pb = switchboard::testing::v1;

// Echo sleeps delay_ms on the pool (blocking is what the pool is for) and answers with the request
// id its work saw; text "fail" answers NOT_FOUND through the absl -> gRPC mapping.
class BlockingEcho final : public pb::EchoService::CallbackService {
 public:
  explicit BlockingEcho(sb::BlockingPool& pool) : pool_(pool) {}
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const pb::EchoRequest* request,
                                 pb::EchoResponse* response) override {
    return sb::rpc::RunBlocking(context, pool_, [request, response]() -> absl::Status {
      if (request->delay_ms() > 0) absl::SleepFor(absl::Milliseconds(request->delay_ms()));
      if (request->text() == "fail") return absl::NotFoundError("no such thing");
      response->set_text(request->text());
      response->set_request_id(sb::log::CurrentRequestId());
      return absl::OkStatus();
    });
  }

 private:
  sb::BlockingPool& pool_;
};

struct Fixture {
  explicit Fixture(int64_t max_in_flight = 0) : pool("test", 1, 1), service(pool) {
    server = std::make_unique<sb::rpc::Server>(sb::rpc::ServerOptions{.host = "127.0.0.1", .port = 0, .registry = &registry});
    server->AddService(&service);
    REQUIRE(server->Start().ok());
    auto channel = sb::rpc::MakeChannel(server->address(), {});
    REQUIRE(channel.ok());
    client = std::make_unique<sb::rpc::AsyncClient<pb::EchoService>>(*channel, absl::Seconds(5), max_in_flight);
  }
  ~Fixture() {
    client->WaitIdle(absl::Now() + absl::Seconds(5));
    server->Drain(absl::Now() + absl::Seconds(5));
    pool.Stop();
  }

  // Starts one Echo call; the future gets (status code, response text, request id).
  std::future<std::tuple<grpc::StatusCode, std::string, std::string>> Echo(const std::string& text, int64_t delay_ms = 0) {
    auto promise = std::make_shared<std::promise<std::tuple<grpc::StatusCode, std::string, std::string>>>();
    pb::EchoRequest request;
    request.set_text(text);
    request.set_delay_ms(delay_ms);
    client->Call<pb::EchoRequest, pb::EchoResponse>(
        &pb::EchoService::Stub::async_interface::Echo, std::move(request),
        [promise](const grpc::Status& status, pb::EchoResponse& response) {
          promise->set_value({status.error_code(), response.text(), response.request_id()});
        });
    return promise->get_future();
  }

  sb::metrics::Registry registry;
  sb::BlockingPool pool;
  BlockingEcho service;
  std::unique_ptr<sb::rpc::Server> server;
  std::unique_ptr<sb::rpc::AsyncClient<pb::EchoService>> client;
};

}  // namespace

TEST_CASE("RunBlocking answers from the pool with the caller's request id; errors keep their code") {
  Fixture f;
  std::string rid;
  {
    sb::log::RequestIdScope scope("req-from-caller-1");
    auto [code, text, seen] = f.Echo("hi").get();
    CHECK(code == grpc::StatusCode::OK);
    CHECK(text == "hi");
    rid = seen;
  }
  CHECK(rid == "req-from-caller-1");  // AsyncClient sent it, the work ran inside its scope
  auto [code, text, seen] = f.Echo("fail").get();
  CHECK(code == grpc::StatusCode::NOT_FOUND);
  CHECK(text.empty());
}

TEST_CASE("RunBlocking answers RESOURCE_EXHAUSTED when the pool's queue is full; WaitIdle waits for callbacks") {
  Fixture f;
  // One call runs (300 ms), one waits in the queue; the rest find the queue full.
  std::vector<std::future<std::tuple<grpc::StatusCode, std::string, std::string>>> calls;
  calls.push_back(f.Echo("a", 300));
  absl::SleepFor(absl::Milliseconds(100));  // let it reach the pool's thread
  for (int i = 0; i < 4; ++i) calls.push_back(f.Echo("b", 10));
  CHECK(f.client->in_flight() >= 1);
  int ok = 0, exhausted = 0;
  for (auto& call : calls) {
    auto code = std::get<0>(call.get());
    if (code == grpc::StatusCode::OK) ++ok;
    if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) ++exhausted;
  }
  CHECK(ok >= 2);         // the running one and the queued one
  CHECK(exhausted >= 1);  // at least one found the queue full
  CHECK(ok + exhausted == 5);
  CHECK(f.client->WaitIdle(absl::Now() + absl::Seconds(2)) == 0);
}

TEST_CASE("AsyncClient with max_in_flight answers UNAVAILABLE at once past the limit, without calling") {
  Fixture f(/*max_in_flight=*/1);
  auto slow = f.Echo("slow", 300);
  auto refused = f.Echo("refused");
  // Refused inline: ready before the slow call could have finished, and the server never saw it.
  REQUIRE(refused.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready);
  auto [code, text, seen] = refused.get();
  CHECK(code == grpc::StatusCode::UNAVAILABLE);
  CHECK(f.client->shed() == 1);
  CHECK(std::get<0>(slow.get()) == grpc::StatusCode::OK);
  CHECK(f.client->WaitIdle(absl::Now() + absl::Seconds(2)) == 0);
  CHECK(std::get<0>(f.Echo("after").get()) == grpc::StatusCode::OK);  // room again
}
