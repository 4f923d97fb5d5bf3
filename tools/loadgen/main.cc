// sb-loadgen: a Socket.IO (Engine.IO v4, websocket transport) load generator for benchmarks.
//
//   sb-loadgen idle --url ws://127.0.0.1:PORT/socket.io/ --connections 10000 --ramp-per-sec 2000 --hold 10
//   sb-loadgen broadcast --url ws://127.0.0.1:PORT/socket.io/ --connections 1000 --room bench
//              --rate 50 --duration 10 --payload-bytes 64
//
// See Usage() for every flag. Output: human progress on stderr; on stdout a few machine-readable
// lines, "READY ..." when the load is in place and finally one "RESULT key=value ..." line.
//
// Design: one io_context run by --threads threads; every connection is a C++20 coroutine on its own
// strand, so the per-connection state needs no locks and the shared counters are relaxed atomics.
// The main thread only paces connection starts and watches the counters.
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "histogram.h"
#include "proc_stats.h"
#include "sb/socketio/engineio.h"
#include "sb/socketio/socketio.h"

namespace sb::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace eio = sb::socketio::eio;
namespace sio = sb::socketio::sio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

// ---- Options ------------------------------------------------------------------------------------

struct Options {
  std::string mode;  // "idle" or "broadcast"
  std::string url = "ws://127.0.0.1:3000/socket.io/";
  int connections = 1000;
  double ramp_per_sec = 2000;
  int max_pending = 512;  // connections in their handshake at once
  double hold_s = 10;
  double settle_s = 2;
  std::string room = "bench";
  double rate = 50;
  double duration_s = 10;
  double warmup_s = 2;
  double drain_s = 5;
  size_t payload_bytes = 64;
  std::string auth;  // raw JSON object for the CONNECT packet, or empty
  int source_ips = 0;  // 0: as many as needed (one per 20,000 connections)
  int threads = 1;
  pid_t server_pid = 0;
  double connect_timeout_s = 30;
};

void Usage() {
  std::cerr << R"(usage: sb-loadgen MODE [flags]
modes:
  idle        open --connections, all CONNECTed, hold them --hold seconds
  broadcast   --connections subscribers join --room; one publisher emits "broadcast" at --rate/s
common flags:
  --url URL               ws://HOST:PORT/PATH (default ws://127.0.0.1:3000/socket.io/)
  --connections N         connections (idle) or subscribers (broadcast) (default 1000)
  --ramp-per-sec R        new connections per second (default 2000)
  --max-pending N         connections allowed in their handshake at once (default 512)
  --auth JSON             auth object sent in the Socket.IO CONNECT packet
  --source-ips K          spread connections over 127.0.0.1..127.0.0.K (default: 1 per 20,000)
  --threads T             io threads (default 1)
  --server-pid PID        sample this local process's RSS and CPU at phase boundaries
  --connect-timeout S     give up on connections not CONNECTed after S seconds (default 30)
idle flags:
  --hold S                seconds to hold the connections once all are up (default 10)
  --settle S              seconds after READY before sampling the server's RSS (default 2)
broadcast flags:
  --room NAME             room to join (default bench)
  --rate MSGS_PER_SEC     publisher rate (default 50)
  --duration S            measured seconds (default 10)
  --warmup S              unmeasured seconds at the same rate first (default 2)
  --drain S               max seconds to wait for in-flight deliveries after the last send (default 5)
  --payload-bytes B       size of the "pad" string in each message (default 64)
)";
}

template <typename Number>
bool ParseNumber(std::string_view text, Number* out) {
  if constexpr (std::is_floating_point_v<Number>) {
    char* end = nullptr;
    const std::string copy(text);
    *out = std::strtod(copy.c_str(), &end);
    return end != copy.c_str() && *end == '\0';
  } else {
    auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return error == std::errc() && ptr == text.data() + text.size();
  }
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  Options options;
  options.mode = argv[1];
  if (options.mode != "idle" && options.mode != "broadcast") return std::nullopt;
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "missing value for " << flag << "\n";
      return std::nullopt;
    }
    const std::string_view value = argv[++i];
    bool ok = true;
    if (flag == "--url") options.url = value;
    else if (flag == "--connections") ok = ParseNumber(value, &options.connections);
    else if (flag == "--ramp-per-sec") ok = ParseNumber(value, &options.ramp_per_sec);
    else if (flag == "--max-pending") ok = ParseNumber(value, &options.max_pending);
    else if (flag == "--hold") ok = ParseNumber(value, &options.hold_s);
    else if (flag == "--settle") ok = ParseNumber(value, &options.settle_s);
    else if (flag == "--room") options.room = value;
    else if (flag == "--rate") ok = ParseNumber(value, &options.rate);
    else if (flag == "--duration") ok = ParseNumber(value, &options.duration_s);
    else if (flag == "--warmup") ok = ParseNumber(value, &options.warmup_s);
    else if (flag == "--drain") ok = ParseNumber(value, &options.drain_s);
    else if (flag == "--payload-bytes") ok = ParseNumber(value, &options.payload_bytes);
    else if (flag == "--auth") options.auth = value;
    else if (flag == "--source-ips") ok = ParseNumber(value, &options.source_ips);
    else if (flag == "--threads") ok = ParseNumber(value, &options.threads);
    else if (flag == "--server-pid") ok = ParseNumber(value, &options.server_pid);
    else if (flag == "--connect-timeout") ok = ParseNumber(value, &options.connect_timeout_s);
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return std::nullopt;
    }
    if (!ok) {
      std::cerr << "bad value for " << flag << ": " << value << "\n";
      return std::nullopt;
    }
  }
  if (options.connections < 0 || options.ramp_per_sec <= 0 || options.max_pending <= 0 ||
      options.rate <= 0 || options.threads <= 0 || options.source_ips < 0 || options.source_ips > 254) {
    std::cerr << "flag value out of range\n";
    return std::nullopt;
  }
  if (!options.auth.empty()) {
    boost::system::error_code error;
    boost::json::value auth = boost::json::parse(options.auth, error);
    if (error || !auth.is_object()) {
      std::cerr << "--auth must be a JSON object\n";
      return std::nullopt;
    }
  }
  if (options.source_ips == 0) options.source_ips = std::max(1, (options.connections + 19'999) / 20'000);
  return options;
}

struct Target {
  std::string host;  // for the Host header
  std::string port;
  std::string request_target;  // path + Engine.IO query
};

std::optional<Target> ParseUrl(std::string_view text) {
  auto url = boost::urls::parse_uri(text);
  if (!url || url->scheme() != "ws" || url->host().empty()) return std::nullopt;
  Target target;
  target.host = url->host();
  target.port = url->has_port() ? std::string(url->port()) : "80";
  std::string path = url->path();
  if (path.empty()) path = "/socket.io/";
  target.request_target = path + "?EIO=4&transport=websocket";
  return target;
}

int64_t NowNs(Clock::time_point epoch) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - epoch).count();
}

// ---- Shared state -------------------------------------------------------------------------------

// Everything the connections report to the main thread. Relaxed atomics: only counts are shared.
struct Shared {
  Clock::time_point epoch = Clock::now();  // "ts" in messages is nanoseconds since this
  std::atomic<int> pending{0};              // started, not yet CONNECTed or failed
  std::atomic<int> connected{0};            // CONNECTed and still open
  std::atomic<int> ever_connected{0};
  std::atomic<int> failed{0};               // never reached CONNECT
  std::atomic<int> dropped{0};              // CONNECTed, closed later (before we stopped)
  std::atomic<int> joined{0};               // broadcast: join acknowledged
  std::atomic<bool> stopping{false};
  // Broadcast measurement window: messages whose ts >= measure_from_ns count.
  std::atomic<int64_t> measure_from_ns{INT64_MAX};
  std::atomic<uint64_t> delivered{0};       // measured deliveries
  std::atomic<uint64_t> received_total{0};  // every "bcast" received, warm-up included
  std::atomic<uint64_t> malformed{0};
  LatencyHistogram latency_ns;
  std::string first_error;  // written once under error_once
  std::atomic<bool> error_once{false};

  void NoteError(const std::string& what) {
    bool expected = false;
    if (error_once.compare_exchange_strong(expected, true)) first_error = what;
  }
};

// ---- One Socket.IO client connection ------------------------------------------------------------

using WsStream = websocket::stream<beast::tcp_stream>;

// A websocket Socket.IO client connection. Every member runs on the connection's strand. Writes
// go through a queue because Beast allows one outstanding write per stream, and pong replies (from
// the reader) may interleave with events (from the publisher).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::any_io_executor strand, const Options& options, const Target& target, Shared& shared)
      : ws_(strand), options_(options), target_(target), shared_(shared) {}

  // Connects TCP (from `source` when given), upgrades to websocket, reads the Engine.IO OPEN,
  // sends the Socket.IO CONNECT and waits for its answer. False (with a reason recorded) on failure.
  asio::awaitable<bool> Open(const tcp::endpoint& server, std::optional<asio::ip::address_v4> source) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    boost::system::error_code error;
    socket.open(tcp::v4(), error);
    if (error) co_return Fail("socket: " + error.message());
    if (source) {
      // Let connect() pick the port per destination, so each source address gets the whole
      // ephemeral range instead of one port per bind().
      int one = 1;
      ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
      socket.bind(tcp::endpoint(*source, 0), error);
      if (error) co_return Fail("bind: " + error.message());
    }
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    auto [connect_error] = co_await beast::get_lowest_layer(ws_).async_connect(server, kAsTuple);
    if (connect_error) co_return Fail("connect: " + connect_error.message());
    beast::get_lowest_layer(ws_).expires_never();
    socket.set_option(tcp::no_delay(true), error);

    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = std::chrono::seconds(30);
    // The server pings every 25 s (pingTimeout 20 s): silence for longer means it is gone.
    timeouts.idle_timeout = std::chrono::seconds(60);
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.read_message_max(eio::kDefaultMaxPayload + 1024);
    auto [handshake_error] =
        co_await ws_.async_handshake(target_.host + ":" + target_.port, target_.request_target, kAsTuple);
    if (handshake_error) co_return Fail("websocket handshake: " + handshake_error.message());

    auto open = co_await ReadEnginePacket();
    if (!open) co_return Fail("closed before OPEN");
    if (open->type != eio::PacketType::kOpen) co_return Fail("first packet is not OPEN");

    const std::string connect = "40" + options_.auth;
    auto [write_error, written] = co_await ws_.async_write(asio::buffer(connect), kAsTuple);
    if (write_error) co_return Fail("send CONNECT: " + write_error.message());

    for (;;) {
      auto packet = co_await ReadSocketIoPacket();
      if (!packet) co_return Fail("closed before CONNECT reply");
      if (packet->type == sio::PacketType::kConnect) co_return true;
      if (packet->type == sio::PacketType::kConnectError) co_return Fail("CONNECT_ERROR");
    }
  }

  // Queues one text frame. Starts the writer when it is idle.
  void Send(std::string text) {
    queue_.push_back(std::move(text));
    if (writing_) return;
    writing_ = true;
    asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->WriteLoop(); },
                   asio::detached);
  }

  // The next Socket.IO packet, answering Engine.IO pings on the way; nullopt when the connection
  // closed or sent something that is not valid Engine.IO / Socket.IO.
  asio::awaitable<std::optional<sio::Packet>> ReadSocketIoPacket() {
    for (;;) {
      auto message = co_await ReadEnginePacket();
      if (!message) co_return std::nullopt;
      if (message->type != eio::PacketType::kMessage || message->binary) continue;
      auto header = sio::DecodeHeader(message->data);
      if (!header.ok()) {
        shared_.malformed.fetch_add(1, std::memory_order_relaxed);
        shared_.NoteError("bad Socket.IO packet: " + std::string(header.status().message()));
        co_return std::nullopt;
      }
      co_return std::move(header->packet);
    }
  }

  bool closed() const { return closed_; }

 private:
  // The next Engine.IO packet other than ping (answered here) and noop.
  asio::awaitable<std::optional<eio::Packet>> ReadEnginePacket() {
    for (;;) {
      buffer_.clear();
      auto [error, bytes] = co_await ws_.async_read(buffer_, kAsTuple);
      if (error) {
        closed_ = true;
        co_return std::nullopt;
      }
      const auto data = buffer_.cdata();
      auto packet = eio::DecodeWebSocketFrame(
          std::string_view(static_cast<const char*>(data.data()), data.size()), !ws_.got_text());
      if (!packet.ok()) {
        shared_.malformed.fetch_add(1, std::memory_order_relaxed);
        closed_ = true;
        co_return std::nullopt;
      }
      switch (packet->type) {
        case eio::PacketType::kPing:
          Send("3" + packet->data);  // Engine.IO v4: the server pings, the client answers
          continue;
        case eio::PacketType::kNoop:
        case eio::PacketType::kPong:
          continue;
        case eio::PacketType::kClose:
          closed_ = true;
          co_return std::nullopt;
        default:
          co_return std::move(*packet);
      }
    }
  }

  asio::awaitable<void> WriteLoop() {
    while (!queue_.empty()) {
      std::string frame = std::move(queue_.front());
      queue_.pop_front();
      ws_.text(true);
      auto [error, bytes] = co_await ws_.async_write(asio::buffer(frame), kAsTuple);
      if (error) {
        queue_.clear();
        closed_ = true;
        break;
      }
    }
    writing_ = false;
  }

  bool Fail(const std::string& why) {
    shared_.NoteError(why);
    closed_ = true;
    return false;
  }

  WsStream ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closed_ = false;
  const Options& options_;
  const Target& target_;
  Shared& shared_;
};

// ---- Per-connection scripts ---------------------------------------------------------------------

// Opens the connection and maintains the shared counters around its life.
asio::awaitable<bool> OpenCounted(std::shared_ptr<Connection> connection, tcp::endpoint server,
                                  std::optional<asio::ip::address_v4> source, Shared& shared) {
  const bool ok = co_await connection->Open(server, source);
  shared.pending.fetch_sub(1);
  if (!ok) {
    shared.failed.fetch_add(1);
    co_return false;
  }
  shared.connected.fetch_add(1);
  shared.ever_connected.fetch_add(1);
  co_return true;
}

void NoteClosed(Shared& shared) {
  shared.connected.fetch_sub(1);
  if (!shared.stopping.load()) shared.dropped.fetch_add(1);
}

// idle: connect, then only answer pings until the connection ends.
asio::awaitable<void> IdleClient(std::shared_ptr<Connection> connection, tcp::endpoint server,
                                 std::optional<asio::ip::address_v4> source, Shared& shared) {
  const bool opened = co_await OpenCounted(connection, server, source, shared);
  if (!opened) co_return;
  for (;;) {
    auto packet = co_await connection->ReadSocketIoPacket();
    if (!packet) break;
  }
  NoteClosed(shared);
}

// The latency of one "bcast" event, or nullopt when it is not one of ours.
std::optional<int64_t> BroadcastTimestamp(const sio::Packet& packet) {
  if (packet.type != sio::PacketType::kEvent || sio::EventName(packet) != "bcast") return std::nullopt;
  auto args = sio::Args(packet);
  if (args.empty() || !args[0].is_object()) return std::nullopt;
  const auto* ts = args[0].as_object().if_contains("ts");
  if (ts == nullptr) return std::nullopt;
  if (ts->is_int64()) return ts->as_int64();
  if (ts->is_uint64()) return static_cast<int64_t>(ts->as_uint64());
  if (ts->is_double()) return static_cast<int64_t>(ts->as_double());
  return std::nullopt;
}

// broadcast subscriber: connect, join the room (ack awaited), then time every "bcast" received.
asio::awaitable<void> Subscriber(std::shared_ptr<Connection> connection, tcp::endpoint server,
                                 std::optional<asio::ip::address_v4> source, Shared& shared,
                                 std::string join_frame) {
  const bool opened = co_await OpenCounted(connection, server, source, shared);
  if (!opened) co_return;
  connection->Send(std::move(join_frame));
  bool joined = false;
  for (;;) {
    // (GCC 12 miscompiles co_await inside if/while conditions of some coroutines: keep it a statement.)
    auto packet = co_await connection->ReadSocketIoPacket();
    if (!packet) break;
    if (!joined) {
      if (packet->type == sio::PacketType::kAck && packet->id == 0u) {
        joined = true;
        shared.joined.fetch_add(1);
      }
      continue;
    }
    auto ts = BroadcastTimestamp(*packet);
    if (!ts) continue;
    shared.received_total.fetch_add(1, std::memory_order_relaxed);
    if (*ts < shared.measure_from_ns.load(std::memory_order_relaxed)) continue;  // warm-up
    const int64_t latency = NowNs(shared.epoch) - *ts;
    shared.latency_ns.Record(latency > 0 ? static_cast<uint64_t>(latency) : 0);
    shared.delivered.fetch_add(1, std::memory_order_relaxed);
  }
  NoteClosed(shared);
}

struct PublisherResult {
  std::atomic<bool> ready{false};
  std::atomic<bool> failed{false};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> sent_measured{0};
  std::atomic<uint64_t> sent_total{0};
  std::atomic<int64_t> start_ns{0};     // when sending should begin (set by main before go)
  std::atomic<bool> go{false};
  // Server CPU when the measured window began; written by the publisher before `done`.
  std::optional<double> cpu_at_measure_start;
  std::optional<UserSystemSeconds> split_at_measure_start;
  double late_max_ms = 0;               // worst lateness of a send against its schedule
};

// broadcast publisher: emits `broadcast` {"room","ts","pad"} at a fixed rate for warm-up +
// duration. Sends are scheduled at start + i/rate; a late send goes out at once (no skipping),
// so the count is exact and lateness is reported.
asio::awaitable<void> Publisher(std::shared_ptr<Connection> connection, tcp::endpoint server,
                                Shared& shared, const Options& options, PublisherResult& result) {
  const bool opened = co_await connection->Open(server, std::nullopt);
  if (!opened) {
    result.failed = true;
    result.done = true;
    co_return;
  }
  // Keep reading so pings are answered while we publish.
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor,
                 [connection]() -> asio::awaitable<void> {
                   for (;;) {
                     auto packet = co_await connection->ReadSocketIoPacket();
                     if (!packet) break;
                   }
                 },
                 asio::detached);
  result.ready = true;
  asio::steady_timer timer(executor);
  while (!result.go.load()) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(kAsTuple);
  }
  const std::string room_json = boost::json::serialize(boost::json::value(options.room));
  const std::string prefix = "42[\"broadcast\",{\"room\":" + room_json + ",\"ts\":";
  const std::string suffix = ",\"pad\":\"" + std::string(options.payload_bytes, 'x') + "\"}]";
  const int64_t start_ns = result.start_ns.load();
  const int64_t warmup_ns = static_cast<int64_t>(options.warmup_s * 1e9);
  const int64_t total_ns = warmup_ns + static_cast<int64_t>(options.duration_s * 1e9);
  const double period_ns = 1e9 / options.rate;
  bool measuring = false;
  for (uint64_t i = 0;; ++i) {
    const int64_t due_ns = start_ns + static_cast<int64_t>(static_cast<double>(i) * period_ns);
    if (due_ns - start_ns >= total_ns) break;
    const int64_t now_ns = NowNs(shared.epoch);
    if (due_ns > now_ns) {
      timer.expires_at(shared.epoch + std::chrono::nanoseconds(due_ns));
      co_await timer.async_wait(kAsTuple);
    } else {
      result.late_max_ms = std::max(result.late_max_ms, static_cast<double>(now_ns - due_ns) / 1e6);
    }
    if (connection->closed()) break;
    if (!measuring && due_ns - start_ns >= warmup_ns) {
      measuring = true;
      if (options.server_pid > 0) {
        result.cpu_at_measure_start = ReadCpuSeconds(options.server_pid);
        result.split_at_measure_start = ReadUserSystemSeconds(options.server_pid);
      }
      shared.measure_from_ns.store(NowNs(shared.epoch));
    }
    const int64_t ts = NowNs(shared.epoch);
    connection->Send(prefix + std::to_string(ts) + suffix);
    result.sent_total.fetch_add(1);
    if (measuring) result.sent_measured.fetch_add(1);
  }
  result.done = true;
}

// ---- Driver -------------------------------------------------------------------------------------

void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    std::cerr << "loadgen: open-file limit " << limit.rlim_cur << "\n";
  }
}

void SleepSeconds(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Starts `count` clients at the configured pace and waits until each is CONNECTed or failed (or
// the connect timeout passes). `spawn(index)` starts client number `index`.
template <typename Spawn>
void RampUp(const Options& options, Shared& shared, int count, Spawn spawn) {
  const auto start = Clock::now();
  auto last_report = start;
  for (int i = 0; i < count; ++i) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(i / options.ramp_per_sec));
    std::this_thread::sleep_until(due);
    while (shared.pending.load() >= options.max_pending) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    shared.pending.fetch_add(1);
    spawn(i);
    if (Clock::now() - last_report > std::chrono::seconds(2)) {
      last_report = Clock::now();
      std::cerr << "loadgen: started " << (i + 1) << "/" << count << ", connected "
                << shared.connected.load() << ", failed " << shared.failed.load() << "\n";
    }
  }
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options.connect_timeout_s));
  while (shared.pending.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::cerr << "loadgen: ramp done in " << SecondsSince(start) << " s: connected "
            << shared.connected.load() << ", failed " << shared.failed.load() << ", still pending "
            << shared.pending.load() << "\n";
}

std::optional<asio::ip::address_v4> SourceFor(const Options& options, int index) {
  if (options.source_ips <= 1) return std::nullopt;
  return asio::ip::make_address_v4(0x7f000001u + static_cast<uint32_t>(index % options.source_ips));
}

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

int RunIdle(const Options& options, asio::io_context& io, const tcp::endpoint& server,
            const Target& target, Shared& shared) {
  std::optional<long> rss_base;
  if (options.server_pid > 0) rss_base = ReadRssKib(options.server_pid);
  RampUp(options, shared, options.connections, [&](int index) {
    auto strand = asio::make_strand(io);
    auto connection = std::make_shared<Connection>(strand, options, target, shared);
    asio::co_spawn(strand, IdleClient(connection, server, SourceFor(options, index), shared),
                   asio::detached);
  });
  std::cout << "READY connected=" << shared.connected.load() << " failed=" << shared.failed.load()
            << std::endl;
  const auto hold_start = Clock::now();
  SleepSeconds(std::min(options.settle_s, options.hold_s));
  std::optional<long> rss_loaded;
  if (options.server_pid > 0) rss_loaded = ReadRssKib(options.server_pid);
  SleepSeconds(std::max(0.0, options.hold_s - SecondsSince(hold_start)));
  // The RSS at the end of the hold, after the server's own timers (pings) have run at least once
  // when the hold is long enough; keep the settled sample if the process is gone by now.
  if (options.server_pid > 0) {
    if (auto late = ReadRssKib(options.server_pid)) rss_loaded = late;
  }
  const int connected = shared.connected.load();
  shared.stopping = true;

  std::cout << "RESULT mode=idle connections=" << options.connections << " connected=" << connected
            << " failed=" << shared.failed.load() << " dropped=" << shared.dropped.load();
  if (rss_base && rss_loaded) {
    const double per_connection =
        connected > 0 ? static_cast<double>(*rss_loaded - *rss_base) * 1024.0 / connected : 0.0;
    std::cout << " server_rss_base_kib=" << *rss_base << " server_rss_loaded_kib=" << *rss_loaded
              << " rss_per_conn_bytes=" << Fixed(per_connection, 0);
  }
  std::cout << std::endl;
  return shared.failed.load() == 0 ? 0 : 1;
}

int RunBroadcast(const Options& options, asio::io_context& io, const tcp::endpoint& server,
                 const Target& target, Shared& shared) {
  const std::string join_frame =
      "420[\"join\"," + std::string(boost::json::serialize(boost::json::value(options.room))) + "]";
  RampUp(options, shared, options.connections, [&](int index) {
    auto strand = asio::make_strand(io);
    auto connection = std::make_shared<Connection>(strand, options, target, shared);
    asio::co_spawn(strand, Subscriber(connection, server, SourceFor(options, index), shared, join_frame),
                   asio::detached);
  });
  // Joins are acknowledged shortly after CONNECT; wait for the stragglers.
  const auto join_deadline = Clock::now() + std::chrono::seconds(10);
  while (shared.joined.load() < shared.connected.load() && Clock::now() < join_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int joined = shared.joined.load();

  PublisherResult publisher;
  {
    auto strand = asio::make_strand(io);
    auto connection = std::make_shared<Connection>(strand, options, target, shared);
    asio::co_spawn(strand, Publisher(connection, server, shared, options, publisher), asio::detached);
  }
  while (!publisher.ready.load() && !publisher.done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (publisher.failed.load()) {
    std::cout << "RESULT mode=broadcast error=publisher_failed" << std::endl;
    return 1;
  }
  std::cout << "READY subscribers=" << shared.connected.load() << " joined=" << joined
            << " failed=" << shared.failed.load() << std::endl;
  publisher.start_ns = NowNs(shared.epoch) + 100'000'000;  // 100 ms from now
  publisher.go = true;
  while (!publisher.done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto last_send = Clock::now();

  // Drain: wait until every measured message reached every joined subscriber, or time runs out.
  const uint64_t expected = publisher.sent_measured.load() * static_cast<uint64_t>(joined);
  while (shared.delivered.load() < expected && SecondsSince(last_send) < options.drain_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double drain_s = SecondsSince(last_send);
  std::optional<double> cpu_end;
  std::optional<UserSystemSeconds> split_end;
  if (options.server_pid > 0) {
    cpu_end = ReadCpuSeconds(options.server_pid);
    split_end = ReadUserSystemSeconds(options.server_pid);
  }
  shared.stopping = true;

  const uint64_t delivered = shared.delivered.load();
  const auto& latency = shared.latency_ns;
  const double window_s = options.duration_s;
  std::cout << "RESULT mode=broadcast subscribers=" << options.connections << " joined=" << joined
            << " failed=" << shared.failed.load() << " dropped=" << shared.dropped.load()
            << " rate=" << Fixed(options.rate, 1) << " sent=" << publisher.sent_measured.load()
            << " expected=" << expected << " delivered=" << delivered
            << " delivered_per_s=" << Fixed(static_cast<double>(delivered) / window_s, 0)
            << " p50_us=" << Fixed(static_cast<double>(latency.Percentile(0.50)) / 1e3, 1)
            << " p99_us=" << Fixed(static_cast<double>(latency.Percentile(0.99)) / 1e3, 1)
            << " p999_us=" << Fixed(static_cast<double>(latency.Percentile(0.999)) / 1e3, 1)
            << " max_us=" << Fixed(static_cast<double>(latency.max()) / 1e3, 1)
            << " drain_s=" << Fixed(drain_s, 3)
            << " publisher_late_max_ms=" << Fixed(publisher.late_max_ms, 1);
  if (publisher.cpu_at_measure_start && cpu_end) {
    const double cpu_s = *cpu_end - *publisher.cpu_at_measure_start;
    std::cout << " server_cpu_s=" << Fixed(cpu_s, 3) << " cpu_s_per_million="
              << Fixed(delivered > 0 ? cpu_s / static_cast<double>(delivered) * 1e6 : 0.0, 3);
  }
  if (publisher.split_at_measure_start && split_end) {
    std::cout << " server_user_s=" << Fixed(split_end->user - publisher.split_at_measure_start->user, 2)
              << " server_sys_s=" << Fixed(split_end->system - publisher.split_at_measure_start->system, 2);
  }
  std::cout << std::endl;
  if (shared.malformed.load() > 0) {
    std::cerr << "loadgen: " << shared.malformed.load() << " malformed packets\n";
  }
  return delivered == expected && shared.failed.load() == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  auto options = ParseOptions(argc, argv);
  if (!options) {
    Usage();
    return 2;
  }
  auto target = ParseUrl(options->url);
  if (!target) {
    std::cerr << "bad --url (want ws://HOST:PORT/PATH): " << options->url << "\n";
    return 2;
  }
  RaiseFileLimit();

  asio::io_context io(options->threads);
  boost::system::error_code error;
  tcp::resolver resolver(io);
  auto resolved = resolver.resolve(tcp::v4(), target->host, target->port, error);
  if (error || resolved.empty()) {
    std::cerr << "cannot resolve " << target->host << ":" << target->port << ": " << error.message() << "\n";
    return 2;
  }
  const tcp::endpoint server = resolved.begin()->endpoint();

  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < options->threads; ++i) threads.emplace_back([&io] { io.run(); });

  Shared shared;
  const int status = options->mode == "idle" ? RunIdle(*options, io, server, *target, shared)
                                             : RunBroadcast(*options, io, server, *target, shared);
  if (!shared.first_error.empty()) std::cerr << "loadgen: first error: " << shared.first_error << "\n";
  // Every socket closes with the process; tearing down thousands of suspended coroutines first
  // would only delay the exit.
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(status);
}

}  // namespace
}  // namespace sb::loadgen

int main(int argc, char** argv) { return sb::loadgen::Main(argc, argv); }
