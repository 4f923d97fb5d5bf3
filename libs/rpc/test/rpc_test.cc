// Real in-process gRPC: an EchoService callback implementation on 127.0.0.1, an ephemeral port.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <grpcpp/support/validate_service_config.h>

#include "sb/common/log.h"
#include "sb/rpc/client.h"
#include "sb/rpc/health.h"
#include "sb/rpc/interceptor.h"
#include "sb/rpc/server.h"
#include "sb/rpc/status.h"
#include "switchboard/testing/v1/echo.grpc.pb.h"

namespace {

using switchboard::testing::v1::EchoRequest;
using switchboard::testing::v1::EchoResponse;
using switchboard::testing::v1::EchoService;
using switchboard::testing::v1::FailRequest;
using switchboard::testing::v1::FailResponse;

class EchoServiceImpl final : public EchoService::CallbackService {
 public:
  ~EchoServiceImpl() override {
    std::lock_guard lock(mu_);
    for (auto& t : delayed_) t.join();
  }

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const EchoRequest* request,
                                 EchoResponse* response) override {
    sb::rpc::CallScope scope(context);
    sb::log::Info("echo handler");
    response->set_text(request->text());
    response->set_request_id(scope.request_id());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->delay_ms() <= 0) {
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    ++in_flight_;
    // Never block a gRPC callback thread: finish later from our own thread.
    std::lock_guard lock(mu_);
    delayed_.emplace_back([this, reactor, delay = request->delay_ms()] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      --in_flight_;
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* Fail(grpc::CallbackServerContext* context, const FailRequest* request,
                                 FailResponse* response) override {
    int attempts;
    {
      std::lock_guard lock(mu_);
      attempts = ++attempts_[request->key()];
    }
    response->set_attempts(attempts);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->succeed_after() > 0 && attempts >= request->succeed_after()) {
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(request->code()), "failing on purpose"));
    }
    return reactor;
  }

  int attempts(const std::string& key) {
    std::lock_guard lock(mu_);
    return attempts_[key];
  }
  int in_flight() const { return in_flight_.load(); }

 private:
  std::mutex mu_;
  std::map<std::string, int> attempts_;
  std::vector<std::thread> delayed_;
  std::atomic<int> in_flight_{0};
};

// Log capture: the sink is a plain function pointer, called from gRPC threads.
std::mutex g_log_mu;
std::vector<std::string> g_log_lines;
void CaptureLog(std::string_view line) {
  std::lock_guard lock(g_log_mu);
  g_log_lines.emplace_back(line);
}
std::vector<boost::json::object> CapturedLines() {
  std::lock_guard lock(g_log_mu);
  std::vector<boost::json::object> out;
  for (const auto& line : g_log_lines) out.push_back(boost::json::parse(line).as_object());
  return out;
}

// One server with the echo service and its own metrics registry.
struct Fixture {
  explicit Fixture(sb::rpc::ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    options.registry = &registry;
    server = std::make_unique<sb::rpc::Server>(options);
    server->AddService(&service);
    REQUIRE(server->Start().ok());
    REQUIRE(server->port() > 0);
  }
  ~Fixture() { server->Drain(absl::Now() + absl::Seconds(5)); }

  std::shared_ptr<grpc::Channel> Channel(const sb::rpc::ClientOptions& options = {}) {
    auto channel = sb::rpc::MakeChannel(server->address(), options);
    REQUIRE(channel.ok());
    return *channel;
  }

  sb::metrics::Registry registry;
  EchoServiceImpl service;  // declared before the server: outlives it
  std::unique_ptr<sb::rpc::Server> server;
};

grpc::Status Echo(EchoService::Stub& stub, const std::string& text, EchoResponse* response, int64_t delay_ms = 0,
                  absl::Duration timeout = absl::Seconds(5)) {
  EchoRequest request;
  request.set_text(text);
  request.set_delay_ms(delay_ms);
  auto context = sb::rpc::NewCallContext(timeout);
  return stub.Echo(context.get(), request, response);
}

grpc::Status Fail(EchoService::Stub& stub, const std::string& key, grpc::StatusCode code, int succeed_after,
                  FailResponse* response) {
  FailRequest request;
  request.set_key(key);
  request.set_code(static_cast<int>(code));
  request.set_succeed_after(succeed_after);
  auto context = sb::rpc::NewCallContext(absl::Seconds(10));
  return stub.Fail(context.get(), request, response);
}

}  // namespace

TEST_CASE("echo round trip over a real server") {
  Fixture f;
  auto stub = EchoService::NewStub(f.Channel());
  EchoResponse response;
  grpc::Status status = Echo(*stub, "hello", &response);
  REQUIRE(status.ok());
  CHECK(response.text() == "hello");
  // No request id was sent, so the server made one and the handler saw it.
  CHECK(response.request_id().size() == 16);
}

TEST_CASE("a slow call past its deadline fails with DEADLINE_EXCEEDED") {
  Fixture f;
  auto stub = EchoService::NewStub(f.Channel());
  EchoResponse response;
  auto start = std::chrono::steady_clock::now();
  grpc::Status status = Echo(*stub, "slow", &response, /*delay_ms=*/1500, absl::Milliseconds(100));
  CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
}

TEST_CASE("idempotent methods are retried on UNAVAILABLE only") {
  Fixture f;
  sb::rpc::ClientOptions retrying;
  retrying.idempotent_methods = {"/switchboard.testing.v1.EchoService/Fail"};
  retrying.retry.initial_backoff = absl::Milliseconds(10);
  auto stub = EchoService::NewStub(f.Channel(retrying));

  FailResponse response;
  grpc::Status status = Fail(*stub, "unavailable", grpc::StatusCode::UNAVAILABLE, 3, &response);
  CHECK(status.ok());
  CHECK(response.attempts() == 3);
  CHECK(f.service.attempts("unavailable") == 3);

  status = Fail(*stub, "aborted", grpc::StatusCode::ABORTED, 3, &response);
  CHECK(status.error_code() == grpc::StatusCode::ABORTED);
  CHECK(status.error_message() == "failing on purpose");
  CHECK(f.service.attempts("aborted") == 1);

  // Attempts are capped by max_attempts: 4 tries, then the last error.
  status = Fail(*stub, "always", grpc::StatusCode::UNAVAILABLE, 0, &response);
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(f.service.attempts("always") == 4);

  // A method not named idempotent is not retried.
  auto plain = EchoService::NewStub(f.Channel());
  status = Fail(*plain, "plain", grpc::StatusCode::UNAVAILABLE, 3, &response);
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(f.service.attempts("plain") == 1);
}

TEST_CASE("service config JSON is valid for gRPC and rejects bad method names") {
  sb::rpc::ClientOptions options;
  options.idempotent_methods = {"/a.b.Svc/Get", "a.b.Other/*"};
  auto json = sb::rpc::ServiceConfigJson(options);
  REQUIRE(json.ok());
  CHECK(grpc::experimental::ValidateServiceConfigJSON(*json).empty());
  auto config = boost::json::parse(*json);
  auto& method_config = config.at("methodConfig").at(0);
  CHECK(method_config.at("name").at(0).at("service") == "a.b.Svc");
  CHECK(method_config.at("name").at(0).at("method") == "Get");
  CHECK_FALSE(method_config.at("name").at(1).as_object().contains("method"));
  CHECK(method_config.at("retryPolicy").at("retryableStatusCodes").at(0) == "UNAVAILABLE");
  CHECK(method_config.at("retryPolicy").at("initialBackoff") == "0.1s");
  CHECK(config.at("loadBalancingConfig").at(0).as_object().contains("round_robin"));
  auto no_retries = sb::rpc::ServiceConfigJson(sb::rpc::ClientOptions{});
  REQUIRE(no_retries.ok());
  CHECK(grpc::experimental::ValidateServiceConfigJSON(*no_retries).empty());
  CHECK_FALSE(boost::json::parse(*no_retries).as_object().contains("methodConfig"));

  options.idempotent_methods = {"NoSlash"};
  CHECK(sb::rpc::ServiceConfigJson(options).status().code() == absl::StatusCode::kInvalidArgument);
  options.idempotent_methods = {"/a.Svc/M"};
  options.retry.max_attempts = 1;
  CHECK(sb::rpc::ServiceConfigJson(options).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(sb::rpc::MakeChannel("127.0.0.1:1", options).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("the request id travels from the client to the handler and the access log") {
  Fixture f;
  auto stub = EchoService::NewStub(f.Channel());
  {
    std::lock_guard lock(g_log_mu);
    g_log_lines.clear();
  }
  sb::log::SetSinkForTesting(&CaptureLog);
  EchoResponse response;
  grpc::Status status;
  {
    sb::log::RequestIdScope scope("req-abc-123");
    status = Echo(*stub, "hi", &response);
  }
  EchoResponse malformed_response;
  grpc::Status malformed_status;
  {
    sb::log::RequestIdScope scope("has spaces\nand newline");
    malformed_status = Echo(*stub, "hi", &malformed_response);
  }
  // A caller that sends a malformed id directly (legal metadata, not a legal id).
  EchoResponse raw_response;
  grpc::ClientContext raw_context;
  raw_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  raw_context.AddMetadata("x-request-id", "has spaces");
  EchoRequest raw_request;
  grpc::Status raw_status = stub->Echo(&raw_context, raw_request, &raw_response);
  sb::log::SetSinkForTesting(nullptr);

  REQUIRE(raw_status.ok());
  CHECK(sb::rpc::IsValidRequestId(raw_response.request_id()));
  CHECK(raw_response.request_id() != "has spaces");
  REQUIRE(status.ok());
  CHECK(response.request_id() == "req-abc-123");
  REQUIRE(malformed_status.ok());
  CHECK(sb::rpc::IsValidRequestId(malformed_response.request_id()));
  CHECK(malformed_response.request_id() != "has spaces\nand newline");

  bool handler_line = false;
  bool access_line = false;
  for (const auto& line : CapturedLines()) {
    if (!line.contains("request_id") || line.at("request_id") != "req-abc-123") continue;
    if (line.at("msg") == "echo handler") handler_line = true;
    if (line.at("msg") == "grpc call") {
      access_line = true;
      CHECK(line.at("method") == "/switchboard.testing.v1.EchoService/Echo");
      CHECK(line.at("code") == "OK");
      CHECK(line.at("duration_ms").to_number<double>() >= 0);
      CHECK(line.at("peer").as_string().starts_with("ipv4:127.0.0.1:"));
    }
  }
  CHECK(handler_line);
  CHECK(access_line);
}

TEST_CASE("per-method metrics appear in the registry exposition") {
  Fixture f;
  auto stub = EchoService::NewStub(f.Channel());
  EchoResponse response;
  REQUIRE(Echo(*stub, "a", &response).ok());
  REQUIRE(Echo(*stub, "b", &response).ok());
  FailResponse fail_response;
  CHECK(Fail(*stub, "k", grpc::StatusCode::NOT_FOUND, 0, &fail_response).error_code() == grpc::StatusCode::NOT_FOUND);

  std::string text = f.registry.Expose();
  const std::string echo = "method=\"/switchboard.testing.v1.EchoService/Echo\"";
  const std::string fail = "method=\"/switchboard.testing.v1.EchoService/Fail\"";
  CHECK(text.find("sb_grpc_server_started_total{" + echo + "} 2\n") != std::string::npos);
  CHECK(text.find("sb_grpc_server_handled_total{" + echo + ",code=\"OK\"} 2\n") != std::string::npos);
  CHECK(text.find("sb_grpc_server_handled_total{" + fail + ",code=\"NOT_FOUND\"} 1\n") != std::string::npos);
  CHECK(text.find("sb_grpc_server_handling_seconds_count{" + echo + "} 2\n") != std::string::npos);
  CHECK(text.find("sb_grpc_server_handling_seconds_bucket{" + echo + ",le=\"+Inf\"} 2\n") != std::string::npos);
}

TEST_CASE("health reports SERVING, then NOT_SERVING while draining, then the server is gone") {
  sb::rpc::ServerOptions options;
  options.drain_grace = absl::Seconds(2);
  Fixture f(options);
  auto channel = f.Channel();
  auto before = sb::rpc::CheckHealth(channel, "", absl::Seconds(2));
  REQUIRE(before.ok());
  CHECK(*before == sb::rpc::ServingStatus::kServing);

  std::thread drain([&] { f.server->Drain(absl::Now() + absl::Seconds(5)); });
  absl::StatusOr<sb::rpc::ServingStatus> during = sb::rpc::ServingStatus::kServing;
  for (int i = 0; i < 100 && during.ok() && *during == sb::rpc::ServingStatus::kServing; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    during = sb::rpc::CheckHealth(channel, "", absl::Seconds(2));
  }
  REQUIRE(during.ok());
  CHECK(*during == sb::rpc::ServingStatus::kNotServing);
  drain.join();

  auto after = sb::rpc::CheckHealth(channel, "", absl::Seconds(2));
  CHECK(after.status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("drain lets an in-flight call finish and refuses calls started after it") {
  Fixture f;
  auto channel = f.Channel();
  auto stub = EchoService::NewStub(channel);
  auto slow = std::async(std::launch::async, [&] {
    EchoResponse response;
    grpc::Status status = Echo(*stub, "slow", &response, /*delay_ms=*/1000);
    return std::make_pair(status, response.text());
  });
  for (int i = 0; i < 200 && f.service.in_flight() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(f.service.in_flight() == 1);

  auto drain_started = std::chrono::steady_clock::now();
  std::thread drain([&] { f.server->Drain(absl::Now() + absl::Seconds(10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  EchoResponse late_response;
  grpc::Status late = Echo(*stub, "late", &late_response, 0, absl::Seconds(2));
  CHECK(late.error_code() == grpc::StatusCode::UNAVAILABLE);

  auto [slow_status, slow_text] = slow.get();
  CHECK(slow_status.ok());
  CHECK(slow_text == "slow");
  drain.join();
  // Drain waited for the slow call rather than cancelling it at once.
  CHECK(std::chrono::steady_clock::now() - drain_started >= std::chrono::milliseconds(500));
}

TEST_CASE("messages above the size limit are rejected with RESOURCE_EXHAUSTED") {
  sb::rpc::ServerOptions options;
  options.max_message_bytes = 1024;
  Fixture f(options);
  auto stub = EchoService::NewStub(f.Channel());
  EchoResponse response;
  CHECK(Echo(*stub, std::string(512, 'x'), &response).ok());
  grpc::Status status = Echo(*stub, std::string(4096, 'x'), &response);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_CASE("a second server cannot bind a port in use") {
  Fixture f;
  sb::rpc::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = f.server->port();
  sb::rpc::Server second(options);
  CHECK(second.Start().code() == absl::StatusCode::kUnavailable);
}
