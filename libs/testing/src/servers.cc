#include "sb/testing/servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

namespace sb::testing {
namespace {

namespace fs = std::filesystem;

struct RunAs {
  uid_t uid;
  gid_t gid;
};

// Postgres will not run as root; when we are root, run its programs as the postgres user.
absl::StatusOr<std::optional<RunAs>> PostgresUser() {
  if (geteuid() != 0) return std::optional<RunAs>();
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return absl::FailedPreconditionError(
        "running as root but there is no 'postgres' user; apt-get install postgresql");
  }
  return std::optional<RunAs>(RunAs{pw->pw_uid, pw->pw_gid});
}

// fork + exec with output to `log_path`, optionally as another user. The child is killed if the
// forking thread dies, so servers never outlive a crashed test.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path,
                            std::optional<RunAs> run_as) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int fd = log_path.empty() ? open("/dev/null", O_WRONLY) : open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    setpgid(0, 0);  // own process group: a Ctrl-C aimed at the test runner reaches us only through it
    if (run_as) {
      if (setgroups(0, nullptr) != 0 || setgid(run_as->gid) != 0 || setuid(run_as->uid) != 0) _exit(126);
    }
    // After setuid: a uid change clears the parent-death signal.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

absl::Status WaitExit(pid_t pid, std::chrono::seconds timeout, int* exit_code = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (exit_code != nullptr) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return absl::OkStatus();
    }
    if (r < 0) return absl::InternalError(std::string("waitpid: ") + std::strerror(errno));
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return absl::DeadlineExceededError("process " + std::to_string(pid) + " did not exit in time; killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

absl::StatusOr<std::string> MakeTempDir(std::optional<RunAs> owner) {
  std::string templ = (fs::temp_directory_path() / "sb-test-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) return absl::InternalError(std::string("mkdtemp: ") + std::strerror(errno));
  if (owner && chown(templ.c_str(), owner->uid, owner->gid) != 0) {
    return absl::InternalError(std::string("chown temp dir: ") + std::strerror(errno));
  }
  return templ;
}

std::string FindPostgresBindir() {
  if (const char* env = std::getenv("SB_PG_BINDIR"); env != nullptr && *env != '\0') return env;
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "postgres")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

std::string ReadTail(const std::string& path, size_t max_bytes = 2000) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "";
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  long start = size > static_cast<long>(max_bytes) ? size - static_cast<long>(max_bytes) : 0;
  std::fseek(f, start, SEEK_SET);
  std::string out(static_cast<size_t>(size - start), '\0');
  size_t n = std::fread(out.data(), 1, out.size(), f);
  out.resize(n);
  std::fclose(f);
  return out;
}

bool RedisAnswersPing(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const char ping[] = "PING\r\n";
    char buf[16] = {};
    if (write(fd, ping, sizeof(ping) - 1) == sizeof(ping) - 1) {
      timeval tv{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      ssize_t n = read(fd, buf, sizeof(buf) - 1);
      ok = n >= 5 && std::strncmp(buf, "+PONG", 5) == 0;
    }
  }
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv, const std::string& log_path) {
  auto pid = Spawn(argv, log_path, std::nullopt);
  if (!pid.ok()) return pid.status();
  int code = 0;
  absl::Status st = WaitExit(*pid, std::chrono::seconds(120), &code);
  if (!st.ok()) return st;
  return code;
}

// ---- Redis ----

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  std::unique_ptr<RedisServer> server(new RedisServer());
  auto dir = MakeTempDir(std::nullopt);
  if (!dir.ok()) return dir.status();
  server->dir_ = *dir;
  server->port_ = FreePort();
  absl::Status st = server->Resume();
  if (!st.ok()) return st;
  return server;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) (void)Kill();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string RedisServer::url() const { return "redis://" + host_ + ":" + std::to_string(port_); }

absl::Status RedisServer::Resume() {
  if (pid_ > 0) return absl::FailedPreconditionError("redis is already running");
  auto pid = Spawn({"redis-server", "--port", std::to_string(port_), "--bind", host_, "--save", "",
                    "--appendonly", "no", "--dir", dir_, "--daemonize", "no", "--protected-mode", "no"},
                   dir_ + "/redis.log", std::nullopt);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!RedisAnswersPing(port_)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError("redis-server exited at start (is redis-server installed? apt-get install "
                                    "redis-server): " + ReadTail(dir_ + "/redis.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)Kill();
      return absl::DeadlineExceededError("redis-server did not answer PING within 20s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::OkStatus();
}

absl::Status RedisServer::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGTERM);
  absl::Status st = WaitExit(pid_, std::chrono::seconds(20));
  pid_ = -1;
  return st;
}

absl::Status RedisServer::Kill() {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGKILL);
  absl::Status st = WaitExit(pid_, std::chrono::seconds(20));
  pid_ = -1;
  return st;
}

absl::Status RedisServer::Restart() {
  absl::Status st = Stop();
  if (!st.ok()) return st;
  return Resume();
}

// ---- Postgres ----

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bindir_ = FindPostgresBindir();
  if (server->bindir_.empty()) {
    return absl::FailedPreconditionError(
        "no Postgres server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql) and "
        "SB_PG_BINDIR is not set");
  }
  auto run_as = PostgresUser();
  if (!run_as.ok()) return run_as.status();
  auto dir = MakeTempDir(*run_as);
  if (!dir.ok()) return dir.status();
  server->dir_ = *dir;
  server->port_ = FreePort();

  auto pid = Spawn({server->bindir_ + "/initdb", "-D", server->dir_ + "/data", "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--locale=C", "--no-sync"},
                   server->dir_ + "/initdb.log", *run_as);
  if (!pid.ok()) return pid.status();
  int code = 0;
  absl::Status st = WaitExit(*pid, std::chrono::seconds(120), &code);
  if (!st.ok()) return st;
  if (code != 0) {
    return absl::InternalError("initdb failed (exit " + std::to_string(code) + "): " +
                               ReadTail(server->dir_ + "/initdb.log"));
  }
  st = server->Resume();
  if (!st.ok()) return st;
  return server;
}

PostgresServer::~PostgresServer() {
  if (pid_ > 0) (void)Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://postgres@" + host_ + ":" + std::to_string(port_) + "/" + database;
}

absl::Status PostgresServer::CreateDatabase(const std::string& name) {
  PGconn* conn = PQconnectdb(url().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError("connect to test postgres: " + err);
  }
  char* quoted = PQescapeIdentifier(conn, name.c_str(), name.size());
  std::string sql = std::string("CREATE DATABASE ") + quoted;
  PQfreemem(quoted);
  PGresult* res = PQexec(conn, sql.c_str());
  absl::Status st = absl::OkStatus();
  if (PQresultStatus(res) != PGRES_COMMAND_OK) st = absl::InternalError(PQresultErrorMessage(res));
  PQclear(res);
  PQfinish(conn);
  return st;
}

absl::Status PostgresServer::Resume() {
  if (pid_ > 0) return absl::FailedPreconditionError("postgres is already running");
  auto run_as = PostgresUser();
  if (!run_as.ok()) return run_as.status();
  // Durability settings are off: these clusters are thrown away after the test.
  auto pid = Spawn({bindir_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k", dir_, "-c",
                    "listen_addresses=" + host_, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                    "full_page_writes=off", "-c", "max_connections=200"},
                   dir_ + "/postgres.log", *run_as);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  const std::string conninfo = url() + "?connect_timeout=1";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(conninfo.c_str()) != PQPING_OK) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError("postgres exited at start: " + ReadTail(dir_ + "/postgres.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)Kill();
      return absl::DeadlineExceededError("postgres did not accept connections within 30s: " +
                                         ReadTail(dir_ + "/postgres.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGINT);  // "fast" shutdown: aborts open transactions, closes sessions
  absl::Status st = WaitExit(pid_, std::chrono::seconds(30));
  pid_ = -1;
  return st;
}

absl::Status PostgresServer::Kill() {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGKILL);
  absl::Status st = WaitExit(pid_, std::chrono::seconds(30));
  pid_ = -1;
  // Orphaned backends exit on their own once they notice the postmaster is gone; give them a moment
  // so that Resume() does not trip over the old shared memory segment.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return st;
}

absl::Status PostgresServer::Restart() {
  absl::Status st = Stop();
  if (!st.ok()) return st;
  return Resume();
}

}  // namespace sb::testing
