// sb-bench-send-floor: the kernel floor of the broadcast benchmark (tools/bench/run). It measures
// what ANY server pays to hand each recipient its own WebSocket frame over loopback TCP, with no
// Socket.IO, no event loop and no per-recipient bookkeeping: the lower bound of "server CPU per
// delivered message" for a server that sends once per recipient per message.
//
//   sb-bench-send-floor [--subscribers N] [--rate MSGS_PER_SEC] [--duration S] [--warmup S]
//                       [--payload-bytes B] [--variants sendmsg,uring]
//
// Per variant, on fresh connections: N loopback TCP pairs to itself (one listener; the server ends
// have TCP_NODELAY, as both benchmarked servers set). A reader thread (pinned to CPU 1) drains the
// client ends with epoll and counts bytes per connection. The sender thread (pinned to CPU 0) sends
// at --rate messages/s for --warmup + --duration seconds one pre-encoded server text frame, the size
// of the benchmark's "bcast" packet, to every connection:
//   sendmsg  one sendmsg() per recipient: what every one-send-per-delivery server does at least.
//   uring    (built with liburing) all N sends of a message queued and submitted with one
//            io_uring_enter; completions reaped from the ring without another system call.
// CPU: the sender thread's own CPU (CLOCK_THREAD_CPUTIME_ID, ns) from just before the first
// measured message to just after the last, plus whatever other threads of the process apart from
// the reader used in that window (io_uring workers, should it punt sends to them). On loopback the
// sender's time includes the receiving side's TCP processing (softirq in the sender's context), as
// it does for the benchmarked servers. user/sys split: getrusage(RUSAGE_THREAD) (tick-sampled).
// Delivery check: every connection must receive exactly messages × frame bytes; a shortfall is
// printed (bytes_short, short_connections) and the exit status is 1.
//
// One line per variant:
//   RESULT mode=floor variant=sendmsg subscribers=... frame_bytes=... sent=... deliveries=...
//          cpu_s=... cpu_s_per_million=... user_s=... sys_s=... ...
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifdef SB_HAVE_LIBURING
#include <liburing.h>
#endif

namespace {

struct Flags {
  int subscribers = 1000;
  double rate = 20;
  double duration_s = 10;
  double warmup_s = 2;
  size_t payload_bytes = 64;
  std::vector<std::string> variants;  // empty: every variant built in
};

std::vector<std::string> AvailableVariants() {
#ifdef SB_HAVE_LIBURING
  return {"sendmsg", "uring"};
#else
  return {"sendmsg"};
#endif
}

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    auto parse = [&](auto* out) {
      auto [ptr, error] = std::from_chars(value.data(), value.data() + value.size(), *out);
      return error == std::errc() && ptr == value.data() + value.size();
    };
    bool ok = true;
    if (flag == "--subscribers") ok = parse(&flags->subscribers) && flags->subscribers > 0;
    else if (flag == "--rate") ok = parse(&flags->rate) && flags->rate > 0;
    else if (flag == "--duration") ok = parse(&flags->duration_s) && flags->duration_s > 0;
    else if (flag == "--warmup") ok = parse(&flags->warmup_s) && flags->warmup_s >= 0;
    else if (flag == "--payload-bytes") ok = parse(&flags->payload_bytes);
    else if (flag == "--variants") {
      std::stringstream list(value);
      std::string name;
      const auto available = AvailableVariants();
      while (std::getline(list, name, ',')) {
        if (std::find(available.begin(), available.end(), name) == available.end()) {
          std::cerr << "sb-bench-send-floor: variant '" << name << "' is not built in\n";
          return false;
        }
        flags->variants.push_back(name);
      }
    } else {
      ok = false;
    }
    if (!ok) return false;
  }
  if (flags->variants.empty()) flags->variants = AvailableVariants();
  return true;
}

// The frame our server writes for one "bcast" of the benchmark: a final unmasked text frame whose
// payload is 42["bcast",{"room":"bench","ts":T,"pad":"x…"}], with T a 10-digit nanosecond
// timestamp (the load generator's clock since its start, 1e9..1e10 ns for most of a default run).
// With the default 64-byte pad: 119 bytes, the size strace shows sb-bench-server's sendmsg write.
std::string BcastFrame(size_t payload_bytes) {
  const std::string packet = "42[\"bcast\",{\"room\":\"bench\",\"ts\":1234567890,\"pad\":\"" +
                             std::string(payload_bytes, 'x') + "\"}]";
  std::string frame;
  frame.push_back(static_cast<char>(0x81));  // FIN + text
  const uint64_t size = packet.size();
  if (size < 126) {
    frame.push_back(static_cast<char>(size));
  } else if (size <= 0xffff) {
    frame.push_back(static_cast<char>(126));
    for (int shift = 8; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(size >> shift));
  } else {
    frame.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(size >> shift));
  }
  return frame + packet;
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "sb-bench-send-floor: " << what << ": " << std::strerror(errno) << "\n";
  std::exit(2);
}

int64_t ClockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double TimevalSeconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

// Pins the calling thread to `cpu` when the process may run there; false otherwise (1-CPU machine).
bool PinTo(int cpu) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
}

void RaiseFileLimit(int needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (static_cast<rlim_t>(needed) > limit.rlim_cur) {
    std::cerr << "sb-bench-send-floor: need " << needed << " file descriptors, the limit is "
              << limit.rlim_cur << "\n";
    std::exit(2);
  }
}

// N connected loopback TCP pairs: `server[i]` (blocking, TCP_NODELAY) sends to `client[i]`
// (non-blocking, drained by the reader).
struct Pairs {
  std::vector<int> server;
  std::vector<int> client;

  explicit Pairs(int n) {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) Die("socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) Die("bind");
    if (listen(listener, 128) != 0) Die("listen");
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) Die("getsockname");
    const int one = 1;
    for (int i = 0; i < n; ++i) {
      const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (c < 0) Die("socket");
      if (connect(c, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) Die("connect");
      const int s = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (s < 0) Die("accept");
      setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
      server.push_back(s);
      client.push_back(c);
    }
    close(listener);
  }
  ~Pairs() {
    for (int fd : server) close(fd);
    for (int fd : client) close(fd);
  }
  Pairs(const Pairs&) = delete;
  Pairs& operator=(const Pairs&) = delete;
};

// Drains every client end with epoll (level-triggered) until told to stop; counts bytes.
class Reader {
 public:
  explicit Reader(const std::vector<int>& clients) : clients_(clients), received_(clients.size(), 0) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) Die("epoll_create1");
    for (size_t i = 0; i < clients_.size(); ++i) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, clients_[i], &event) != 0) Die("epoll_ctl");
    }
    thread_ = std::thread([this] { Run(); });
    // The thread's CPU clock, readable from other threads (to leave the reader out of "others").
    pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
  }
  ~Reader() {
    Stop();
    close(epoll_);
  }

  uint64_t total() const { return total_.load(); }
  int64_t cpu_ns() const { return ClockNs(cpu_clock_); }
  // Bytes per connection; read it only after Stop().
  const std::vector<uint64_t>& received() const { return received_; }

  // Stops and joins the thread (idempotent).
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    PinTo(1);
    std::vector<epoll_event> events(512);
    std::vector<char> buffer(64 * 1024);
    while (!stop_.load(std::memory_order_relaxed)) {
      const int ready = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      for (int e = 0; e < ready; ++e) {
        const size_t i = events[e].data.u64;
        for (;;) {
          const ssize_t n = read(clients_[i], buffer.data(), buffer.size());
          if (n <= 0) break;  // EAGAIN (drained), EOF or error: the byte count tells
          received_[i] += static_cast<uint64_t>(n);
          total_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
          if (static_cast<size_t>(n) < buffer.size()) break;
        }
      }
    }
  }

  const std::vector<int>& clients_;
  std::vector<uint64_t> received_;
  std::atomic<uint64_t> total_{0};
  std::atomic<bool> stop_{false};
  int epoll_ = -1;
  clockid_t cpu_clock_{};
  std::thread thread_;
};

// Sends `frame` once to every fd: one sendmsg per recipient, with one iovec and MSG_NOSIGNAL as
// sb-bench-server writes a frame. Returns the sends that failed or were short (a blocking TCP send
// is all-or-error unless interrupted).
int SendEach(const std::vector<int>& fds, const std::string& frame) {
  int failed = 0;
  iovec iov{const_cast<char*>(frame.data()), frame.size()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  for (int fd : fds) {
    const ssize_t n = sendmsg(fd, &message, MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(frame.size())) ++failed;
  }
  return failed;
}

#ifdef SB_HAVE_LIBURING
// One ring whose submission queue holds a whole message's sends.
class UringSender {
 public:
  explicit UringSender(size_t entries) {
    const int error = io_uring_queue_init(static_cast<unsigned>(entries), &ring_, 0);
    if (error < 0) {
      errno = -error;
      Die("io_uring_queue_init");
    }
  }
  ~UringSender() { io_uring_queue_exit(&ring_); }

  // Queues one send per fd, submits them with one io_uring_enter that also waits for all of their
  // completions (loopback sends complete inline), then reaps the completion queue in user space.
  // Returns the sends that failed or were short.
  int SendAll(const std::vector<int>& fds, const std::string& frame) {
    for (size_t i = 0; i < fds.size(); ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_send(sqe, fds[i], frame.data(), frame.size(), MSG_NOSIGNAL);
      sqe->user_data = i;
    }
    const int submitted = io_uring_submit_and_wait(&ring_, static_cast<unsigned>(fds.size()));
    if (submitted < 0) {
      errno = -submitted;
      Die("io_uring_submit_and_wait");
    }
    int failed = 0;
    size_t reaped = 0;
    while (reaped < fds.size()) {
      io_uring_cqe* cqe = nullptr;
      const int error = io_uring_wait_cqe(&ring_, &cqe);  // no system call when one is ready
      if (error < 0) {
        errno = -error;
        Die("io_uring_wait_cqe");
      }
      unsigned head = 0;
      unsigned count = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        if (cqe->res != static_cast<int>(frame.size())) ++failed;
        ++count;
      }
      io_uring_cq_advance(&ring_, count);
      reaped += count;
    }
    return failed;
  }

 private:
  io_uring ring_{};
};
#endif

struct CpuSample {
  int64_t thread_ns = 0;
  int64_t process_ns = 0;
  int64_t reader_ns = 0;
  rusage thread_usage{};
};

CpuSample SampleCpu(const Reader& reader) {
  CpuSample sample;
  sample.thread_ns = ClockNs(CLOCK_THREAD_CPUTIME_ID);
  sample.process_ns = ClockNs(CLOCK_PROCESS_CPUTIME_ID);
  sample.reader_ns = reader.cpu_ns();
  getrusage(RUSAGE_THREAD, &sample.thread_usage);
  return sample;
}

struct SenderResult {
  uint64_t sent_total = 0;
  uint64_t sent_measured = 0;
  int failed_sends = 0;
  double late_max_ms = 0;
  bool pinned = false;
  CpuSample start;
  CpuSample end;
};

// Runs one variant on fresh connections and prints its RESULT line. False on a delivery shortfall.
bool RunVariant(const Flags& flags, const std::string& variant, const std::string& frame) {
  Pairs pairs(flags.subscribers);
  Reader reader(pairs.client);
#ifdef SB_HAVE_LIBURING
  std::optional<UringSender> uring;
  if (variant == "uring") uring.emplace(pairs.server.size());
#endif

  SenderResult result;
  std::thread sender([&] {
    result.pinned = PinTo(0);
    const double period_ns = 1e9 / flags.rate;
    const int64_t warmup_ns = static_cast<int64_t>(flags.warmup_s * 1e9);
    const int64_t total_ns = warmup_ns + static_cast<int64_t>(flags.duration_s * 1e9);
    const int64_t start_ns = ClockNs(CLOCK_MONOTONIC) + 100'000'000;
    bool measuring = false;
    for (uint64_t i = 0;; ++i) {
      const int64_t due_ns = start_ns + static_cast<int64_t>(static_cast<double>(i) * period_ns);
      if (due_ns - start_ns >= total_ns) break;
      const int64_t now_ns = ClockNs(CLOCK_MONOTONIC);
      if (due_ns > now_ns) {
        timespec due{static_cast<time_t>(due_ns / 1'000'000'000), static_cast<long>(due_ns % 1'000'000'000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) == EINTR) {
        }
      } else {
        result.late_max_ms = std::max(result.late_max_ms, static_cast<double>(now_ns - due_ns) / 1e6);
      }
      if (!measuring && due_ns - start_ns >= warmup_ns) {
        measuring = true;
        result.start = SampleCpu(reader);
      }
#ifdef SB_HAVE_LIBURING
      if (uring) {
        result.failed_sends += uring->SendAll(pairs.server, frame);
      } else {
        result.failed_sends += SendEach(pairs.server, frame);
      }
#else
      result.failed_sends += SendEach(pairs.server, frame);
#endif
      ++result.sent_total;
      if (measuring) ++result.sent_measured;
    }
    result.end = SampleCpu(reader);
  });
  sender.join();

  // Every byte sent must arrive; give the reader up to 5 s to drain.
  const uint64_t per_connection = result.sent_total * frame.size();
  const uint64_t expected = per_connection * pairs.client.size();
  const int64_t deadline = ClockNs(CLOCK_MONOTONIC) + 5'000'000'000;
  while (reader.total() < expected && ClockNs(CLOCK_MONOTONIC) < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Threads other than the sender and the reader (io_uring workers, if any): up to now, so work they
  // finish after the sender's last sample is counted too. The main thread only waits.
  const int64_t process_now = ClockNs(CLOCK_PROCESS_CPUTIME_ID);
  const int64_t reader_now = reader.cpu_ns();
  reader.Stop();
  const uint64_t received = reader.total();
  int short_connections = 0;
  for (uint64_t bytes : reader.received()) {
    if (bytes != per_connection) ++short_connections;
  }

  const double thread_s = static_cast<double>(result.end.thread_ns - result.start.thread_ns) / 1e9;
  const double others_s =
      std::max<double>(0, static_cast<double>((process_now - result.start.process_ns) -
                                              (reader_now - result.start.reader_ns) -
                                              (result.end.thread_ns - result.start.thread_ns)) /
                              1e9);
  const double reader_s = static_cast<double>(reader_now - result.start.reader_ns) / 1e9;
  const double user_s = TimevalSeconds(result.end.thread_usage.ru_utime) -
                        TimevalSeconds(result.start.thread_usage.ru_utime);
  const double sys_s = TimevalSeconds(result.end.thread_usage.ru_stime) -
                       TimevalSeconds(result.start.thread_usage.ru_stime);
  const double cpu_s = thread_s + others_s;
  const uint64_t deliveries = result.sent_measured * pairs.server.size();
  const long voluntary = result.end.thread_usage.ru_nvcsw - result.start.thread_usage.ru_nvcsw;
  const long involuntary = result.end.thread_usage.ru_nivcsw - result.start.thread_usage.ru_nivcsw;

  char line[1024];
  std::snprintf(
      line, sizeof(line),
      "RESULT mode=floor variant=%s subscribers=%zu rate=%.1f frame_bytes=%zu pinned=%s sent=%llu "
      "deliveries=%llu failed_sends=%d bytes_expected=%llu bytes_received=%llu bytes_short=%llu "
      "short_connections=%d cpu_s=%.4f cpu_s_per_million=%.3f sender_thread_s=%.4f "
      "other_threads_s=%.4f user_s=%.3f sys_s=%.3f reader_s=%.4f sender_csw=%ld/%ld "
      "late_max_ms=%.1f",
      variant.c_str(), pairs.server.size(), flags.rate, frame.size(), result.pinned ? "yes" : "no",
      static_cast<unsigned long long>(result.sent_measured),
      static_cast<unsigned long long>(deliveries), result.failed_sends,
      static_cast<unsigned long long>(expected), static_cast<unsigned long long>(received),
      static_cast<unsigned long long>(expected > received ? expected - received : 0),
      short_connections, cpu_s, deliveries > 0 ? cpu_s / static_cast<double>(deliveries) * 1e6 : 0.0,
      thread_s, others_s, user_s, sys_s, reader_s, voluntary, involuntary, result.late_max_ms);
  std::cout << line << std::endl;
  return received == expected && short_connections == 0 && result.failed_sends == 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::cerr << "usage: sb-bench-send-floor [--subscribers N] [--rate MSGS_PER_SEC] [--duration S]"
                 " [--warmup S] [--payload-bytes B] [--variants sendmsg,uring]\n"
                 "built-in variants:";
    for (const auto& name : AvailableVariants()) std::cerr << " " << name;
    std::cerr << "\n";
    return 2;
  }
  RaiseFileLimit(2 * flags.subscribers + 64);
  const std::string frame = BcastFrame(flags.payload_bytes);
  bool complete = true;
  for (const auto& variant : flags.variants) {
    std::cerr << "sb-bench-send-floor: " << variant << ": " << flags.subscribers << " connections, "
              << flags.rate << " msgs/s, " << frame.size() << "-byte frames, " << flags.warmup_s
              << " s warm-up + " << flags.duration_s << " s\n";
    if (!RunVariant(flags, variant, frame)) {
      std::cerr << "sb-bench-send-floor: " << variant << ": delivery shortfall (see RESULT)\n";
      complete = false;
    }
  }
  return complete ? 0 : 1;
}
