#include "sb/socketio/server/http.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "sb/common/log.h"

namespace sb::socketio::server {
namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

std::optional<std::string_view> FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                                           std::string_view name) {
  const absl::string_view wanted(name.data(), name.size());
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(absl::string_view(k), wanted)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> RequestInfo::Header(std::string_view name) const { return FindHeader(headers, name); }

std::optional<std::string_view> RequestInfo::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

RequestInfo RequestInfo::From(const Request& request, std::string remote_address) {
  RequestInfo info;
  info.method = std::string(request.method_string());
  info.target = std::string(request.target());
  info.remote_address = std::move(remote_address);
  info.headers.reserve(static_cast<size_t>(std::distance(request.begin(), request.end())));
  for (const auto& field : request) {
    info.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                              std::string(field.value()));
  }
  auto url = boost::urls::parse_origin_form(info.target);
  if (url) {
    info.path = std::string(url->path());
    for (auto segment : url->segments()) {
      if (!segment.empty()) info.segments.push_back(std::move(segment));
    }
    for (auto param : url->params()) {
      info.query.emplace_back(std::string(param.key), std::string(param.value));
    }
  } else {
    info.path = info.target.substr(0, info.target.find('?'));
    info.segments = absl::StrSplit(info.path, '/', absl::SkipEmpty());
  }
  return info;
}

struct Responder::State {
  explicit State(SendFn fn) : send(std::move(fn)) {}
  ~State() {
    if (!done.exchange(true) && send) {
      send(MakeResponse(http::status::internal_server_error, "application/json",
                        R"({"error":{"code":"internal","message":"no response"}})"));
    }
  }
  SendFn send;
  std::atomic<bool> done{false};
};

Responder::Responder(SendFn send) : state_(std::make_shared<State>(std::move(send))) {}

void Responder::operator()(Response response) const {
  if (!state_ || state_->done.exchange(true)) return;
  state_->send(std::move(response));
}

Response MakeResponse(http::status status, std::string_view content_type, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// One HTTP connection. Everything runs on the stream's strand.
class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }

  void Start() { DoRead(true); }

 private:
  void DoRead(bool first) {
    parser_.emplace();
    parser_->body_limit(server_.options_.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.max_header_bytes));
    // The first request gets the I/O timeout; a keep-alive wait gets the idle timeout.
    stream_.expires_after(first ? server_.options_.io_timeout : server_.options_.keep_alive_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted) {
      return DoClose();
    }
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return Write(MakeResponse(http::status::payload_too_large, "application/json",
                                R"({"code":3,"message":"Payload too large"})"));
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      keep_alive_ = false;
      return Write(MakeResponse(http::status::request_header_fields_too_large, "application/json",
                                R"({"error":{"code":"headers_too_large","message":"request headers too large"}})"));
    }
    if (ec) return DoClose();
    stream_.expires_never();
    server_.requests_.fetch_add(1, std::memory_order_relaxed);
    Request request = parser_->release();
    parser_.reset();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    // Shrink the read buffer between requests: idle keep-alive connections should cost little.
    buffer_.shrink_to_fit();

    RequestInfo info = RequestInfo::From(request, remote_);
    auto self = shared_from_this();
    Responder respond([self](Response res) {
      net::dispatch(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
        self->Write(std::move(res));
      });
    });
    RequestRouter* router = server_.router_;
    if (router && info.path.starts_with(router->path())) {
      router->HandleRequest(std::move(request), std::move(info), std::move(respond),
                            [self]() -> tcp::socket { return self->stream_.release_socket(); });
      return;
    }
    if (server_.fallback_) {
      server_.fallback_(request, info, std::move(respond));
    } else {
      respond(MakeResponse(http::status::not_found, "application/json",
                           R"({"error":{"code":"not_found","message":"not found"}})"));
    }
  }

  void Write(Response res) {
    if (!stream_.socket().is_open()) return;
    res.version(version_);
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    auto msg = std::make_shared<Response>(std::move(res));
    stream_.expires_after(server_.options_.io_timeout);
    http::async_write(stream_, *msg, [self = shared_from_this(), msg](beast::error_code ec, size_t) {
      if (ec) return self->DoClose();
      if (!msg->keep_alive()) return self->DoClose();
      self->DoRead(false);
    });
  }

  void DoClose() {
    beast::error_code ec;
    if (stream_.socket().is_open()) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.socket().close(ec);
    }
  }

  HttpServer& server_;
  beast::tcp_stream stream_;
  // No cap of its own (a flat_buffer's constructor argument is its maximum size): the parser's
  // header and body limits bound what a request may make it hold.
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

HttpServer::HttpServer(net::io_context& io, HttpServerOptions options, RequestRouter* router,
                       FallbackHandler fallback)
    : io_(io),
      options_(std::move(options)),
      router_(router),
      fallback_(std::move(fallback)),
      acceptor_(net::make_strand(io)),
      accept_retry_timer_(acceptor_.get_executor()) {}

HttpServer::~HttpServer() = default;

absl::StatusOr<uint16_t> HttpServer::Start() {
  beast::error_code ec;
  auto address = net::ip::make_address(options_.host, ec);
  if (ec) return absl::InvalidArgumentError("bad listen address: " + options_.host);
  tcp::endpoint endpoint{address, options_.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError("listen on " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message());
  port_ = acceptor_.local_endpoint(ec).port();
  net::dispatch(acceptor_.get_executor(), [this] { DoAccept(); });
  return port_.load();
}

void HttpServer::DoAccept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      accepted_.fetch_add(1, std::memory_order_relaxed);
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Connection>(*this, std::move(socket))->Start();
      DoAccept();
      return;
    }
    // Errors such as EMFILE/ENFILE/ENOBUFS persist while the pending connection stays in the
    // backlog: accepting again at once would spin a core and flood the log. Back off instead.
    accept_errors_.fetch_add(1, std::memory_order_relaxed);
    ++accept_errors_unlogged_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_accept_error_log_ >= kAcceptErrorLogInterval) {
      sb::log::Warn("http accept failed; retrying",
                    {{"error", ec.message()},
                     {"errors_since_last_log", accept_errors_unlogged_},
                     {"retry_ms", static_cast<int64_t>(kAcceptRetryDelay.count())}});
      last_accept_error_log_ = now;
      accept_errors_unlogged_ = 0;
    }
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
      if (wait_ec || !acceptor_.is_open()) return;  // cancelled by StopAccepting
      DoAccept();
    });
  });
}

void HttpServer::StopAccepting() {
  net::dispatch(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_timer_.cancel();
  });
}

}  // namespace sb::socketio::server
