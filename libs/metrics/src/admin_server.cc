#include "sb/metrics/admin_server.h"

#include <algorithm>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "sb/common/log.h"

namespace sb::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

HttpResponse JsonResponse(int status, const boost::json::value& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = boost::json::serialize(body);
  return r;
}

HttpResponse ErrorResponse(int status, const std::string& code, const std::string& message) {
  return JsonResponse(status, boost::json::object{
                                  {"error", boost::json::object{{"code", code}, {"message", message}}}});
}

std::string JoinMethods(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& m : methods) out += (out.empty() ? "" : ", ") + m;
  return out;
}

// One client connection: reads requests in a keep-alive loop, each bounded in size and time.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, AdminServer* server, const AdminServerOptions& options)
      : stream_(std::move(socket)), server_(server), options_(options) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(options_.max_request_bytes, UINT32_MAX)));
    parser_->body_limit(options_.max_request_bytes);
    stream_.expires_after(options_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::header_limit ||
        ec == http::error::buffer_overflow) {
      Write(ErrorResponse(413, "payload_too_large", "request exceeds the size limit"), 11, false);
      return;
    }
    if (ec) {
      // end_of_stream (client closed), timeout or a malformed request: just close the connection.
      Close();
      return;
    }
    const auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.path = request.target.substr(0, request.target.find('?'));
    request.body = req.body();
    Write(server_->Handle(request), req.version(), req.keep_alive());
  }

  void Write(HttpResponse response, unsigned version, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    res->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(options_.read_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive) {
        self->Close();
        return;
      }
      self->Read();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  AdminServer* server_;
  const AdminServerOptions& options_;
};

}  // namespace

struct AdminServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry_timer{ioc};
  std::vector<std::thread> threads;

  void Accept(AdminServer* server, const AdminServerOptions& options) {
    acceptor.async_accept(asio::make_strand(ioc), [this, server, &options](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // E.g. out of file descriptors: back off briefly instead of spinning on the error.
        sb::log::Warn("admin server accept failed", {{"error", ec.message()}});
        retry_timer.expires_after(std::chrono::milliseconds(100));
        retry_timer.async_wait([this, server, &options](beast::error_code wait_ec) {
          if (!wait_ec) Accept(server, options);
        });
        return;
      }
      std::make_shared<Session>(std::move(socket), server, options)->Start();
      Accept(server, options);
    });
  }
};

AdminServer::AdminServer(AdminServerOptions options)
    : options_(std::move(options)), registry_(options_.registry ? options_.registry : &DefaultRegistry()) {
  if (options_.threads < 1) options_.threads = 1;
}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::AddReadinessCheck(const std::string& name, ReadinessCheck check) {
  std::lock_guard lock(mu_);
  for (auto& [existing, fn] : checks_) {
    if (existing == name) {
      fn = std::move(check);
      return;
    }
  }
  checks_.emplace_back(name, std::move(check));
}

void AdminServer::AddRoute(const std::string& path, Handler handler, std::vector<std::string> methods) {
  std::lock_guard lock(mu_);
  routes_[path] = Route{std::move(handler), std::move(methods)};
}

absl::Status AdminServer::Start() {
  if (impl_) return absl::FailedPreconditionError("admin server already started");
  if (options_.process_metrics) RegisterProcessMetrics(*registry_);
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return absl::InvalidArgumentError("admin server: cannot resolve host " + options_.host + ": " + ec.message());
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  std::string where = options_.host + ":" + std::to_string(options_.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError("admin server: cannot listen on " + where + ": " + ec.message());
  port_ = impl->acceptor.local_endpoint().port();

  impl->Accept(this, options_);
  for (int i = 0; i < options_.threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  impl_ = std::move(impl);
  sb::log::Info("admin server listening", {{"host", options_.host}, {"port", static_cast<int>(port_.load())}});
  return absl::OkStatus();
}

void AdminServer::Stop() {
  if (!impl_) return;
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  // Destroying the io_context destroys the pending handlers and with them every open session.
  impl_.reset();
}

HttpResponse AdminServer::Ready() {
  if (draining_.load()) return JsonResponse(503, boost::json::object{{"status", "draining"}});
  std::vector<std::pair<std::string, ReadinessCheck>> checks;
  {
    std::lock_guard lock(mu_);
    checks = checks_;
  }
  boost::json::array failing;
  for (const auto& [name, check] : checks) {
    absl::Status status;
    try {
      status = check();
    } catch (const std::exception& e) {
      status = absl::InternalError(std::string("check threw: ") + e.what());
    }
    if (!status.ok()) {
      failing.push_back(boost::json::object{{"check", name}, {"error", std::string(status.message())}});
    }
  }
  if (!failing.empty()) {
    return JsonResponse(503, boost::json::object{{"status", "not_ready"}, {"failing", std::move(failing)}});
  }
  return JsonResponse(200, boost::json::object{{"status", "ready"}});
}

HttpResponse AdminServer::Handle(const HttpRequest& request) {
  auto builtin = [&](auto&& produce) -> HttpResponse {
    if (request.method != "GET") {
      HttpResponse r = ErrorResponse(405, "method_not_allowed", request.method + " not allowed on " + request.path);
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    return produce();
  };
  if (request.path == "/metrics") {
    return builtin([&] {
      return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", registry_->Expose(), {}};
    });
  }
  if (request.path == "/healthz") {
    return builtin([] { return HttpResponse{200, "text/plain; charset=utf-8", "ok", {}}; });
  }
  if (request.path == "/readyz") return builtin([&] { return Ready(); });

  Route route;
  {
    std::lock_guard lock(mu_);
    auto it = routes_.find(request.path);
    if (it == routes_.end()) return ErrorResponse(404, "not_found", "no route for " + request.path);
    route = it->second;
  }
  if (std::find(route.methods.begin(), route.methods.end(), request.method) == route.methods.end()) {
    HttpResponse r = ErrorResponse(405, "method_not_allowed", request.method + " not allowed on " + request.path);
    r.headers.emplace_back("Allow", JoinMethods(route.methods));
    return r;
  }
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    sb::log::Error("admin route handler threw", {{"path", request.path}, {"error", e.what()}});
    return ErrorResponse(500, "internal", "handler failed");
  }
}

}  // namespace sb::metrics
