#include "sb/db/pool.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <utility>

#include <pqxx/nontransaction>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sb/common/log.h"
#include "sb/db/errors.h"

namespace sb::db {
namespace {

bool IsUrl(const std::string& conninfo) {
  return absl::StartsWith(conninfo, "postgresql://") || absl::StartsWith(conninfo, "postgres://");
}

std::string PercentEncode(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Does a key=value conninfo string set `key`? A key starts the string or follows whitespace.
bool ConninfoHasKey(const std::string& conninfo, const std::string& key) {
  for (size_t pos = conninfo.find(key); pos != std::string::npos; pos = conninfo.find(key, pos + 1)) {
    if (pos > 0 && !std::isspace(static_cast<unsigned char>(conninfo[pos - 1]))) continue;
    size_t after = pos + key.size();
    while (after < conninfo.size() && std::isspace(static_cast<unsigned char>(conninfo[after]))) ++after;
    if (after < conninfo.size() && conninfo[after] == '=') return true;
  }
  return false;
}

// libpq's second-valued parameters take whole seconds; round up so 500ms does not become 0 (which
// libpq reads as "no timeout" / "system default").
int64_t CeilSeconds(absl::Duration d) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(d))));
}

}  // namespace

std::string BuildConnectionString(const PoolOptions& options) {
  std::string conninfo = options.url;
  conninfo = AddConnectionParameter(conninfo, "connect_timeout", std::to_string(CeilSeconds(options.connect_timeout)));
  if (!options.application_name.empty()) {
    conninfo = AddConnectionParameter(conninfo, "application_name", options.application_name);
  }
  if (options.tcp_keepalives) {
    conninfo = AddConnectionParameter(conninfo, "keepalives", "1");
    if (options.keepalives_idle > absl::ZeroDuration()) {
      conninfo = AddConnectionParameter(conninfo, "keepalives_idle", std::to_string(CeilSeconds(options.keepalives_idle)));
    }
    if (options.keepalives_interval > absl::ZeroDuration()) {
      conninfo = AddConnectionParameter(conninfo, "keepalives_interval",
                                        std::to_string(CeilSeconds(options.keepalives_interval)));
    }
    if (options.keepalives_count > 0) {
      conninfo = AddConnectionParameter(conninfo, "keepalives_count", std::to_string(options.keepalives_count));
    }
  }
  if (options.tcp_user_timeout > absl::ZeroDuration()) {
    const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(options.tcp_user_timeout, absl::Milliseconds(1))));
    conninfo = AddConnectionParameter(conninfo, "tcp_user_timeout", std::to_string(ms));
  }
  return conninfo;
}

namespace {

PoolOptions Sanitize(PoolOptions options) {
  options.max_connections = std::max(1, options.max_connections);
  if (options.acquire_timeout < absl::ZeroDuration()) options.acquire_timeout = absl::ZeroDuration();
  return options;
}

}  // namespace

std::string AddConnectionParameter(const std::string& url, const std::string& key, const std::string& value) {
  if (IsUrl(url)) {
    size_t query = url.find('?');
    if (query != std::string::npos) {
      std::string params = "&" + url.substr(query + 1);
      if (absl::StrContains(params, "&" + key + "=")) return url;
    }
    return absl::StrCat(url, query == std::string::npos ? "?" : "&", key, "=", PercentEncode(value));
  }
  if (ConninfoHasKey(url, key)) return url;
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += "'";
  return absl::StrCat(url, url.empty() ? "" : " ", key, "=", quoted);
}

// ---- PooledConnection ----

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::move(other.conn_)),
      broken_(std::exchange(other.broken_, false)),
      discard_(std::exchange(other.discard_, false)) {}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::exchange(other.pool_, nullptr);
    conn_ = std::move(other.conn_);
    broken_ = std::exchange(other.broken_, false);
    discard_ = std::exchange(other.discard_, false);
  }
  return *this;
}

PooledConnection::~PooledConnection() { Release(); }

void PooledConnection::Release() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_), broken_, discard_);
  pool_ = nullptr;
  conn_.reset();
  broken_ = false;
  discard_ = false;
}

// ---- ConnectionPool ----

ConnectionPool::ConnectionPool(PoolOptions options)
    : options_(Sanitize(std::move(options))), conninfo_(BuildConnectionString(options_)) {}

ConnectionPool::~ConnectionPool() { DropIdle(); }

absl::StatusOr<PooledConnection> ConnectionPool::Acquire() { return Acquire(options_.acquire_timeout); }

absl::StatusOr<PooledConnection> ConnectionPool::Acquire(absl::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::unique_lock<std::mutex> lock(mu_);
  bool counted_wait = false;
  while (true) {
    if (!idle_.empty()) {
      IdleConnection candidate = std::move(idle_.back());
      idle_.pop_back();
      ++in_use_;  // holds the slot while we check it without the lock
      lock.unlock();
      if (Healthy(*candidate.conn, candidate.idle_since)) {
        return PooledConnection(this, std::move(candidate.conn));
      }
      candidate.conn.reset();
      lock.lock();
      --in_use_;
      ++broken_total_;
      continue;  // after a server restart every idle connection is dead: keep looking, then open
    }
    if (in_use_ + opening_ < options_.max_connections) {
      ++opening_;
      lock.unlock();
      absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Open();
      lock.lock();
      --opening_;
      if (!conn.ok()) {
        ++connect_failures_total_;
        freed_.notify_one();  // the slot we reserved is free again
        return conn.status();
      }
      ++in_use_;
      ++opened_total_;
      return PooledConnection(this, *std::move(conn));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ++timeouts_total_;
      return absl::ResourceExhaustedError(
          absl::StrCat("connection pool exhausted: no Postgres connection became free within ",
                       absl::FormatDuration(timeout), " (max_connections=", options_.max_connections, ")"));
    }
    if (!counted_wait) {
      ++waits_total_;
      counted_wait = true;
    }
    freed_.wait_until(lock, deadline);
  }
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectionPool::Open() {
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo_);
    // A silent reconnect would drop session settings and hide the failure from the pool.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    if (options_.statement_timeout > absl::ZeroDuration()) {
      pqxx::nontransaction setup(*conn);
      setup.exec0(absl::StrCat("SET statement_timeout = ",
                               std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.statement_timeout))));
    }
    return conn;
  } catch (const std::exception& e) {
    absl::Status status = StatusFromException(e);
    sb::log::Warn("postgres connect failed", {{"error", std::string(status.message())}});
    return absl::Status(status.code(), absl::StrCat("connect to Postgres: ", status.message()));
  }
}

bool ConnectionPool::Healthy(pqxx::connection& conn, absl::Time idle_since) {
  if (!conn.is_open() || conn.sock() < 0) return false;
  // An idle connection has nothing to read. Readable means the server closed it (restart, crash,
  // idle timeout) or sent an unsolicited message; either way a fresh connection is the safe choice.
  pollfd pfd{conn.sock(), POLLIN, 0};
  int ready = ::poll(&pfd, 1, 0);
  if (ready != 0) return false;
  if (absl::Now() - idle_since < options_.health_check_after_idle) return true;
  try {
    pqxx::nontransaction check(conn);
    check.exec("SELECT 1");
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void ConnectionPool::Return(std::unique_ptr<pqxx::connection> conn, bool broken, bool discard) {
  const bool open = conn->is_open();
  const bool keep = !broken && !discard && open;
  if (!keep) conn.reset();  // close outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_use_;
    if (keep) {
      idle_.push_back({std::move(conn), absl::Now()});
    } else if (broken || !open) {
      ++broken_total_;
    }
  }
  freed_.notify_one();
}

void ConnectionPool::DropIdle() {
  std::deque<IdleConnection> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
  }
  freed_.notify_all();
}

int ConnectionPool::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}
int ConnectionPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(idle_.size());
}
int ConnectionPool::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_ + opening_ + static_cast<int>(idle_.size());
}
int64_t ConnectionPool::opened_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_total_;
}
int64_t ConnectionPool::broken_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return broken_total_;
}
int64_t ConnectionPool::waits_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waits_total_;
}
int64_t ConnectionPool::timeouts_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeouts_total_;
}
int64_t ConnectionPool::connect_failures_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connect_failures_total_;
}

bool PostgresReachable(ConnectionPool& pool, absl::Duration timeout) {
  auto conn = pool.Acquire(timeout);
  return conn.ok() || absl::IsResourceExhausted(conn.status());
}

}  // namespace sb::db
