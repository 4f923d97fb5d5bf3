// The operations HTTP port every service exposes (Boost.Beast HTTP/1.1 on its own Asio threads):
//
//   GET /metrics  Prometheus text format 0.0.4 of the registry
//   GET /healthz  200 "ok" while the process is alive (liveness)
//   GET /readyz   200 {"status":"ready"} when every readiness check passes; otherwise 503 with
//                 {"status":"not_ready","failing":[{"check":"postgres","error":"..."}]}, or
//                 {"status":"draining"} once SetDraining() was called (shutdown)
//   extra routes  registered with AddRoute (e.g. JSON stats endpoints)
//   anything else 404 {"error":{"code":"not_found",...}}; a known path with a wrong method: 405.
//
//   sb::metrics::AdminServer admin({.host = "0.0.0.0", .port = 9101});
//   admin.AddReadinessCheck("postgres", [&] { return pool.Healthy(); });
//   SB_RETURN_IF_ERROR(admin.Start());
//   ...
//   admin.SetDraining();   // first shutdown step: load balancers stop sending traffic
//   admin.Stop();          // last step
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "sb/metrics/metrics.h"

namespace sb::metrics {

struct AdminServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 0;                 // 0 binds an ephemeral port; see AdminServer::port()
  int threads = 1;
  size_t max_request_bytes = 64 * 1024;   // header + body; larger requests get 413 and are closed
  std::chrono::milliseconds read_timeout{10000};  // per request, including idle keep-alive wait
  Registry* registry = nullptr;      // nullptr -> DefaultRegistry()
  bool process_metrics = true;       // RegisterProcessMetrics(registry) on Start()
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent, e.g. "/stats?verbose=1"
  std::string path;    // target without the query
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. {"Allow", "GET"}
};

class AdminServer {
 public:
  // Runs on an Asio thread: must not block for long (read cached state, don't query databases).
  using ReadinessCheck = std::function<absl::Status()>;
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit AdminServer(AdminServerOptions options = {});
  ~AdminServer();  // Stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // A named check consulted by /readyz; not OK -> 503 naming it. Same name again replaces it.
  void AddReadinessCheck(const std::string& name, ReadinessCheck check);
  // Serves `path` (exact match, query ignored) for the given methods. Built-in paths can't be
  // overridden. Thread-safe; may be called before or after Start().
  void AddRoute(const std::string& path, Handler handler, std::vector<std::string> methods = {"GET"});

  // From now on /readyz answers 503 {"status":"draining"}; /healthz and /metrics keep working.
  void SetDraining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }

  // Binds and starts serving; an error if the address cannot be bound. Call once.
  absl::Status Start();
  // Closes the listener and every connection and joins the threads. Idempotent.
  void Stop();

  // The bound port (the real one when options.port was 0); 0 before Start().
  uint16_t port() const { return port_.load(); }

  // Produces the response for one request; what the network sessions call. A handler that throws
  // yields 500. Exposed for tests.
  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Impl;
  struct Route {
    Handler handler;
    std::vector<std::string> methods;
  };
  HttpResponse Ready();

  AdminServerOptions options_;
  Registry* registry_;
  std::atomic<bool> draining_{false};
  std::atomic<uint16_t> port_{0};
  std::mutex mu_;
  std::vector<std::pair<std::string, ReadinessCheck>> checks_;
  std::map<std::string, Route> routes_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::metrics
