#include <catch2/catch.hpp>

#include <atomic>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include "sb/metrics/admin_server.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// A plain Beast client holding one keep-alive connection to the server under test.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  http::response<http::string_body> Send(http::verb method, const std::string& target, std::string body = "") {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return res;
  }
  http::response<http::string_body> Get(const std::string& target) { return Send(http::verb::get, target); }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

TEST_CASE("admin server answers /metrics, /healthz, /readyz and 404 over a real socket") {
  sb::metrics::Registry registry;
  registry.Counter("sb_test_total", "t", {"k"}).Labels({"v"}).Increment(4);
  sb::metrics::AdminServer server({.host = "127.0.0.1", .port = 0, .registry = &registry});
  std::atomic<bool> redis_ok{true};
  server.AddReadinessCheck("postgres", [] { return absl::OkStatus(); });
  server.AddReadinessCheck("redis", [&] {
    return redis_ok ? absl::OkStatus() : absl::UnavailableError("connection refused");
  });
  REQUIRE(server.Start().ok());
  REQUIRE(server.port() != 0);

  Client client(server.port());  // every request below reuses this keep-alive connection

  auto metrics = client.Get("/metrics");
  CHECK(metrics.result_int() == 200);
  CHECK(metrics[http::field::content_type].starts_with("text/plain; version=0.0.4"));
  CHECK(metrics.body().find("sb_test_total{k=\"v\"} 4\n") != std::string::npos);
  CHECK(metrics.body().find("process_resident_memory_bytes ") != std::string::npos);

  auto health = client.Get("/healthz");
  CHECK(health.result_int() == 200);
  CHECK(health.body() == "ok");

  auto ready = client.Get("/readyz");
  CHECK(ready.result_int() == 200);
  CHECK(boost::json::parse(ready.body()).at("status") == "ready");

  redis_ok = false;
  auto not_ready = client.Get("/readyz");
  CHECK(not_ready.result_int() == 503);
  auto body = boost::json::parse(not_ready.body());
  CHECK(body.at("status") == "not_ready");
  REQUIRE(body.at("failing").as_array().size() == 1);
  CHECK(body.at("failing").at(0).at("check") == "redis");
  CHECK(body.at("failing").at(0).at("error") == "connection refused");

  redis_ok = true;
  CHECK(client.Get("/readyz").result_int() == 200);
  server.SetDraining();
  auto draining = client.Get("/readyz");
  CHECK(draining.result_int() == 503);
  CHECK(boost::json::parse(draining.body()).at("status") == "draining");
  CHECK(client.Get("/healthz").result_int() == 200);  // still alive while draining

  auto missing = client.Get("/nope?x=1");
  CHECK(missing.result_int() == 404);
  CHECK(boost::json::parse(missing.body()).at("error").at("code") == "not_found");

  auto wrong_method = client.Send(http::verb::post, "/metrics", "x");
  CHECK(wrong_method.result_int() == 405);
  CHECK(wrong_method[http::field::allow] == "GET");

  server.Stop();
}

TEST_CASE("admin server serves registered routes and rejects oversized requests") {
  sb::metrics::Registry registry;
  sb::metrics::AdminServer server(
      {.host = "127.0.0.1", .port = 0, .max_request_bytes = 1024, .registry = &registry, .process_metrics = false});
  server.AddRoute("/stats", [](const sb::metrics::HttpRequest& req) {
    return sb::metrics::HttpResponse{200, "application/json", "{\"echo\":\"" + req.body + "\"}", {}};
  }, {"POST"});
  server.AddRoute("/boom", [](const sb::metrics::HttpRequest&) -> sb::metrics::HttpResponse {
    throw std::runtime_error("bug");
  });
  REQUIRE(server.Start().ok());

  Client client(server.port());
  auto stats = client.Send(http::verb::post, "/stats?verbose=1", "hi");
  CHECK(stats.result_int() == 200);
  CHECK(stats.body() == "{\"echo\":\"hi\"}");
  CHECK(client.Get("/stats").result_int() == 405);
  CHECK(client.Get("/boom").result_int() == 500);

  Client big(server.port());
  auto too_large = big.Send(http::verb::post, "/stats", std::string(4096, 'x'));
  CHECK(too_large.result_int() == 413);
  CHECK_FALSE(too_large.keep_alive());
}

TEST_CASE("admin server reports a bind failure and stops cleanly with open connections") {
  sb::metrics::Registry registry;
  sb::metrics::AdminServer first({.host = "127.0.0.1", .port = 0, .registry = &registry});
  REQUIRE(first.Start().ok());
  sb::metrics::AdminServer second({.host = "127.0.0.1", .port = first.port(), .registry = &registry});
  CHECK(second.Start().code() == absl::StatusCode::kUnavailable);

  Client idle(first.port());
  CHECK(idle.Get("/healthz").result_int() == 200);
  first.Stop();  // must not hang on the idle keep-alive connection
  first.Stop();  // idempotent
}

TEST_CASE("admin server closes connections that send nothing within the read timeout") {
  sb::metrics::Registry registry;
  sb::metrics::AdminServer server({.host = "127.0.0.1",
                                   .port = 0,
                                   .read_timeout = std::chrono::milliseconds(200),
                                   .registry = &registry,
                                   .process_metrics = false});
  REQUIRE(server.Start().ok());
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  auto start = std::chrono::steady_clock::now();
  char byte;
  beast::error_code ec;
  size_t n = socket.read_some(asio::buffer(&byte, 1), ec);  // blocks until the server closes
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(n == 0);
  CHECK(ec);  // eof or reset: the server closed the idle connection
  CHECK(waited >= std::chrono::milliseconds(150));
  CHECK(waited < std::chrono::seconds(3));
}
