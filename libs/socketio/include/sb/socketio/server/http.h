// HTTP/1.1 front door of the Socket.IO server (Boost.Beast): one TCP port for Engine.IO long-polling,
// WebSocket upgrades and the embedding application's own routes (REST, /metrics, /healthz).
//
// Threading: every connection lives on its own strand of the io_context; any number of threads may
// run the io_context. Requests on one connection are handled one at a time (no pipelining), with
// keep-alive. A request whose path starts with the Engine.IO path goes to the RequestRouter given at
// construction (the EngineServer); everything else goes to the FallbackHandler.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "absl/status/statusor.h"

namespace sb::socketio::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// First value of header `name` in `headers`, names compared ASCII-case-insensitively. The one
// header lookup of this library (RequestInfo::Header, Handshake::Header).
std::optional<std::string_view> FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view name);

// What the application sees of a request: lower-cased header names, decoded query parameters,
// the peer's address. Copyable and independent of the connection.
struct RequestInfo {
  std::string method;
  std::string target;  // as received, e.g. "/socket.io/?EIO=4&transport=polling"
  std::string path;    // target without the query, percent-decoded
  // The path's segments, each percent-decoded on its own ("/a/x%2Fy" -> {"a", "x/y"}), empty ones
  // dropped: what REST handlers match ids against.
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> query;
  std::string remote_address;
  bool secure = false;

  // First value of a header (name compared case-insensitively) / query parameter, if present.
  std::optional<std::string_view> Header(std::string_view name) const;
  std::optional<std::string_view> Query(std::string_view name) const;

  // Builds the info from a parsed request (a bad query string yields no query parameters).
  static RequestInfo From(const Request& request, std::string remote_address);
};

// Sends the one response to one request. Copyable; call it once, from any thread, at any later
// time (e.g. when an async gRPC call completes). Later calls are ignored. If every copy is destroyed
// without a call, the client gets a 500 so that it never hangs.
class Responder {
 public:
  using SendFn = std::function<void(Response)>;
  Responder() = default;
  explicit Responder(SendFn send);

  void operator()(Response response) const;
  bool valid() const { return state_ != nullptr; }

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Convenience: a response with `status`, content type and body.
Response MakeResponse(http::status status, std::string_view content_type, std::string body);

using FallbackHandler = std::function<void(const Request&, const RequestInfo&, Responder)>;

// Receives requests under the Engine.IO path. Called on the connection's strand. For a WebSocket
// upgrade request the router may call `take_socket()` (at most once, before returning) to take the
// TCP socket over; the HTTP connection then ends without touching it again. Otherwise it must
// eventually call `respond` (at any time, from any thread).
class RequestRouter {
 public:
  virtual ~RequestRouter() = default;
  virtual std::string_view path() const = 0;
  virtual void HandleRequest(Request request, RequestInfo info, Responder respond,
                             std::function<boost::asio::ip::tcp::socket()> take_socket) = 0;
};

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 0;  // 0: an ephemeral port, see HttpServer::port()
  // Largest request body accepted (413 above). The Engine.IO router applies its own maxPayload.
  size_t max_body_bytes = 1'000'000;
  // Largest request line + headers accepted (431 above): room for long JWTs and id lists in URLs.
  size_t max_header_bytes = 64 * 1024;
  // Time allowed to receive one request (header and body) and to write one response.
  std::chrono::seconds io_timeout{30};
  // Idle keep-alive connections are closed after this long without a new request.
  std::chrono::seconds keep_alive_timeout{60};
};

// Accepts TCP connections and serves HTTP/1.1 on them. Must outlive the io_context's threads.
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, RequestRouter* router,
             FallbackHandler fallback);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting; returns the bound port (the real one when options.port is 0).
  absl::StatusOr<uint16_t> Start();
  uint16_t port() const { return port_.load(); }
  // Stops accepting new connections (existing ones are left to their owners). Thread-safe.
  void StopAccepting();

  // Counters.
  uint64_t connections_accepted() const { return accepted_.load(); }
  uint64_t requests_served() const { return requests_.load(); }
  // Failed accepts (e.g. EMFILE). After one, accepting resumes kAcceptRetryDelay later (no busy loop);
  // the warning is logged at most once per kAcceptErrorLogInterval.
  uint64_t accept_errors() const { return accept_errors_.load(); }
  static constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
  static constexpr std::chrono::seconds kAcceptErrorLogInterval{5};

 private:
  class Connection;
  void DoAccept();

  boost::asio::io_context& io_;
  HttpServerOptions options_;
  RequestRouter* router_;
  FallbackHandler fallback_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_timer_;  // on the acceptor's strand
  std::chrono::steady_clock::time_point last_accept_error_log_{};  // acceptor strand only
  uint64_t accept_errors_unlogged_ = 0;                            // acceptor strand only
  std::atomic<uint16_t> port_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> accept_errors_{0};
};

}  // namespace sb::socketio::server
