// In-process network tests of the HTTP front door (no external server needed).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <future>
#include <mutex>
#include <tuple>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "sb/socketio/server/engine.h"
#include "sb/socketio/server/http.h"
#include "sb/socketio/server/server.h"

using namespace sb::socketio::server;
using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Runs `io` on its own thread until the end of the scope (then stops and joins it).
struct IoThread {
  explicit IoThread(net::io_context& context) : io(context), thread([&context] { context.run(); }) {}
  ~IoThread() {
    io.stop();
    if (thread.joinable()) thread.join();
  }
  net::io_context& io;
  std::thread thread;
};

class NoRouter : public RequestRouter {
 public:
  std::string_view path() const override { return "/socket.io/"; }
  void HandleRequest(Request, RequestInfo, Responder respond, std::function<tcp::socket()>) override {
    respond(MakeResponse(http::status::not_found, "text/plain", ""));
  }
};

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

}  // namespace

TEST_CASE("HttpServer backs off after an accept error instead of spinning, then recovers") {
  net::io_context io;
  NoRouter router;
  HttpServer server(io, HttpServerOptions{.host = "127.0.0.1"}, &router,
                    [](const Request&, const RequestInfo&, Responder respond) {
                      respond(MakeResponse(http::status::ok, "text/plain", "ok"));
                    });
  auto port = server.Start();
  REQUIRE(port.ok());
  IoThread runner(io);

  // The client's socket (and its reactor) exist before the descriptors run out.
  net::io_context client_io;
  tcp::socket client(client_io);
  client.open(tcp::v4());
  // Exhaust the process's descriptors so that the server's accept fails with EMFILE while the
  // connection waits in the listen backlog.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit lowered = saved;
  lowered.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 4096);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  std::vector<int> fillers;
  struct Restore {
    std::vector<int>& fds;
    rlimit limit;
    ~Restore() {
      for (int fd : fds) ::close(fd);
      fds.clear();
      setrlimit(RLIMIT_NOFILE, &limit);
    }
  } restore{fillers, saved};
  for (;;) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    fillers.push_back(fd);
  }
  REQUIRE(!fillers.empty());

  boost::system::error_code ec;
  client.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), *port), ec);
  REQUIRE_FALSE(ec);  // the kernel completes the handshake from the listen backlog

  REQUIRE(WaitFor([&] { return server.accept_errors() >= 1; }, 2s));
  std::this_thread::sleep_for(500ms);
  const uint64_t errors = server.accept_errors();
  // One retry per kAcceptRetryDelay (100 ms): a handful in 0.5 s, not thousands.
  CHECK(errors <= 10);
  CHECK(server.connections_accepted() == 0);

  for (int fd : fillers) ::close(fd);
  fillers.clear();
  setrlimit(RLIMIT_NOFILE, &saved);
  // The retry picks the waiting connection up once descriptors are free again.
  CHECK(WaitFor([&] { return server.connections_accepted() == 1; }, 2s));

  server.StopAccepting();
  client.close(ec);
}

TEST_CASE("FindHeader compares header names case-insensitively and returns the first value") {
  std::vector<std::pair<std::string, std::string>> headers{{"x-one", "1"}, {"content-type", "a"}, {"Content-Type", "b"}};
  CHECK(FindHeader(headers, "CONTENT-TYPE") == std::optional<std::string_view>("a"));
  CHECK(FindHeader(headers, "X-One") == std::optional<std::string_view>("1"));
  CHECK_FALSE(FindHeader(headers, "x-on"));
  CHECK_FALSE(FindHeader(headers, "x-one-more"));
  RequestInfo info;
  info.headers = headers;
  CHECK(info.Header("Content-type") == std::optional<std::string_view>("a"));
}

TEST_CASE("RequestInfo decodes path segments one by one and query values") {
  Request req(http::verb::get, "/api/v1/chat/blocks/a%2Fb%20c//x?userIds=u%2C1,u2&q=%C3%A9", 11);
  RequestInfo info = RequestInfo::From(req, "127.0.0.1");
  CHECK(info.segments == std::vector<std::string>{"api", "v1", "chat", "blocks", "a/b c", "x"});
  CHECK(info.Query("userIds") == std::optional<std::string_view>("u,1,u2"));
  CHECK(info.Query("q") == std::optional<std::string_view>("\xC3\xA9"));
  CHECK(RequestInfo::From(Request(http::verb::get, "/", 11), "").segments.empty());
}

namespace {

// One HTTP request on a fresh connection (Engine.IO long-polling needs nothing more).
Response HttpCall(uint16_t port, http::verb method, const std::string& target, std::string body = "") {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  Request req(method, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::connection, "close");
  req.body() = std::move(body);
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  Response res;
  http::read(socket, buffer, res);
  return res;
}

}  // namespace

TEST_CASE("a socket keeps its connection id and EmitWithAck never calls back inline after the connection is gone") {
  net::io_context io;
  EngineServer engine(io, EngineOptions{});
  Server sio(engine);
  std::promise<std::shared_ptr<Socket>> connected;
  sio.Of("/").OnConnection([&](std::shared_ptr<Socket> socket) { connected.set_value(std::move(socket)); });
  HttpServer http_server(io, HttpServerOptions{.host = "127.0.0.1"}, &engine,
                         [](const Request&, const RequestInfo&, Responder respond) {
                           respond(MakeResponse(http::status::not_found, "text/plain", ""));
                         });
  auto port = http_server.Start();
  REQUIRE(port.ok());
  IoThread runner(io);
  const auto io_thread = runner.thread.get_id();

  auto open = HttpCall(*port, http::verb::get, "/socket.io/?EIO=4&transport=polling");
  REQUIRE(open.result() == http::status::ok);
  const std::string& body = open.body();
  const auto sid_at = body.find("\"sid\":\"");
  REQUIRE(sid_at != std::string::npos);
  const std::string sid = body.substr(sid_at + 7, body.find('"', sid_at + 7) - (sid_at + 7));
  const std::string target = "/socket.io/?EIO=4&transport=polling&sid=" + sid;
  REQUIRE(HttpCall(*port, http::verb::post, target, "40").result() == http::status::ok);
  auto future = connected.get_future();
  REQUIRE(future.wait_for(5s) == std::future_status::ready);
  std::shared_ptr<Socket> socket = future.get();
  CHECK(socket->connection_id() == sid);

  // The client closes the Engine.IO session: the connection objects go away, the Socket stays.
  REQUIRE(HttpCall(*port, http::verb::post, target, "1").result() == http::status::ok);
  REQUIRE(WaitFor([&] { return !socket->connected() && engine.session_count() == 0; }, 5s));
  CHECK(socket->connection_id() == sid);

  std::promise<std::pair<absl::Status, std::thread::id>> acked;
  socket->EmitWithAck("ping", {}, {}, 1s, [&](absl::Status status, Message&) {
    acked.set_value({status, std::this_thread::get_id()});
  });
  auto ack = acked.get_future();
  REQUIRE(ack.wait_for(5s) == std::future_status::ready);
  auto [status, thread] = ack.get();
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  CHECK(thread == io_thread);  // on the strand, not inline on the caller's thread
}

TEST_CASE("long headers and URLs are served up to the header limit, then answered 431") {
  net::io_context io;
  HttpServer server(io, HttpServerOptions{.host = "127.0.0.1", .max_header_bytes = 32 * 1024}, nullptr,
                    [](const Request& request, const RequestInfo& info, Responder respond) {
                      respond(MakeResponse(http::status::ok, "text/plain",
                                           std::to_string(info.target.size() + request[http::field::authorization].size())));
                    });
  auto port = server.Start();
  REQUIRE(port.ok());
  IoThread runner(io);

  auto call = [&](const std::string& target, const std::string& authorization) {
    net::io_context client_io;
    tcp::socket socket(client_io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), *port));
    Request req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, authorization);
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    Response res;
    http::read(socket, buffer, res);
    return res;
  };
  // A 6 KB bearer token and a 20 KB id list: well past the 1 KB a small read buffer would allow.
  const std::string token = "Bearer " + std::string(6000, 'a');
  const std::string target = "/api/v1/users/online-status?userIds=" + std::string(20'000, 'u');
  auto ok = call(target, token);
  CHECK(ok.result() == http::status::ok);
  CHECK(ok.body() == std::to_string(target.size() + token.size()));
  auto too_large = call("/x?ids=" + std::string(40'000, 'u'), token);
  CHECK(too_large.result() == http::status::request_header_fields_too_large);
}

TEST_CASE("on_session_closed pairs with allow_request: once per admitted session, never for refused ones") {
  net::io_context io;
  std::mutex mu;
  int admitted = 0, refused = 0, closed = 0;
  EngineOptions options;
  options.allow_request = [&](const RequestInfo& info) -> std::optional<Refusal> {
    std::lock_guard lock(mu);
    if (info.Query("deny")) {
      ++refused;
      return Refusal{403, "no"};
    }
    ++admitted;
    return std::nullopt;
  };
  options.on_session_closed = [&](const RequestInfo& info) {
    std::lock_guard lock(mu);
    CHECK_FALSE(info.Query("deny").has_value());
    ++closed;
  };
  EngineServer engine(io, options);
  HttpServer http_server(io, HttpServerOptions{.host = "127.0.0.1"}, &engine,
                         [](const Request&, const RequestInfo&, Responder respond) {
                           respond(MakeResponse(http::status::not_found, "text/plain", ""));
                         });
  auto port = http_server.Start();
  REQUIRE(port.ok());
  IoThread runner(io);
  auto counts = [&] {
    std::lock_guard lock(mu);
    return std::tuple{admitted, refused, closed};
  };

  CHECK(HttpCall(*port, http::verb::get, "/socket.io/?EIO=4&transport=polling&deny=1").result() ==
        http::status::forbidden);
  std::vector<std::string> sids;
  for (int i = 0; i < 2; ++i) {
    auto open = HttpCall(*port, http::verb::get, "/socket.io/?EIO=4&transport=polling");
    REQUIRE(open.result() == http::status::ok);
    const std::string& body = open.body();
    const auto at = body.find("\"sid\":\"");
    REQUIRE(at != std::string::npos);
    sids.push_back(body.substr(at + 7, body.find('"', at + 7) - (at + 7)));
  }
  CHECK(counts() == std::tuple{2, 1, 0});
  // A client-side close releases at once; the other session goes with CloseAll.
  REQUIRE(HttpCall(*port, http::verb::post, "/socket.io/?EIO=4&transport=polling&sid=" + sids[0], "1").result() ==
          http::status::ok);
  REQUIRE(WaitFor([&] { return std::get<2>(counts()) == 1; }, 5s));
  engine.CloseAll();
  REQUIRE(WaitFor([&] { return std::get<2>(counts()) == 2 && engine.session_count() == 0; }, 10s));
  CHECK(counts() == std::tuple{2, 1, 2});
}
