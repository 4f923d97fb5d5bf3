// sb-loadgen: a Socket.IO (Engine.IO v4, websocket transport) load generator for benchmarks.
//
//   sb-loadgen idle --url ws://127.0.0.1:PORT/socket.io/ --connections 10000 --ramp-per-sec 2000 --hold 10
//   sb-loadgen broadcast --url ws://127.0.0.1:PORT/socket.io/ --connections 1000 --room bench
//              --rate 50 --duration 10 --payload-bytes 64
//   sb-loadgen chat --url ws://127.0.0.1:PORT/socket.io/ --pairs 50 --rate 3000 --duration 10
//              --jwt-secret S   (chat through sb-gateway or the reference server's chat mode)
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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "histogram.h"
#include "proc_stats.h"
#include "sb/auth/mint.h"
#include "sb/socketio/engineio.h"
#include "sb/socketio/socketio.h"

namespace sb::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace eio = sb::socketio::eio;
namespace sio = sb::socketio::sio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

// ---- Options ------------------------------------------------------------------------------------

// A process whose CPU time the chat mode reports (--cpu-pid NAME=PID, NAME=PID+ with children).
struct CpuProcess {
  std::string name;
  pid_t pid = 0;
  bool with_children = false;
};

struct Options {
  std::string mode;  // "idle", "broadcast" or "chat"
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
  // chat
  int pairs = 50;
  std::string jwt_secret;  // default: $SB_JWT_SECRET
  std::string user_prefix = "chat";
  int in_flight = 4;  // --rate 0: sends outstanding per sender
  std::vector<CpuProcess> cpu_processes;
};

void Usage() {
  std::cerr << R"(usage: sb-loadgen MODE [flags]
modes:
  idle        open --connections, all CONNECTed, hold them --hold seconds
  broadcast   --connections subscribers join --room; one publisher emits "broadcast" at --rate/s
  chat        --pairs sender/recipient pairs, one direct conversation each (REST); the senders emit
              "message:send" (with ack) at a total --rate/s; recipients time "message:new"
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
chat flags (also --rate, --duration, --warmup, --drain, --settle, --payload-bytes: content size):
  --pairs P               sender/recipient pairs: users PREFIX-s{i} and PREFIX-r{i} (default 50)
  --user-prefix PREFIX    user id prefix (default chat)
  --jwt-secret S          HS256 secret for the users' tokens (default $SB_JWT_SECRET)
  --rate 0                closed loop instead: each sender keeps --in-flight sends outstanding
  --in-flight N           (closed loop) outstanding sends per sender (default 4)
  --cpu-pid NAME=PID[+]   report this process's CPU over the measured window as cpu_NAME_s; a
                          trailing + adds its direct children (Postgres backends); repeatable
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
  if (options.mode != "idle" && options.mode != "broadcast" && options.mode != "chat") return std::nullopt;
  if (options.mode == "chat") options.settle_s = 1;  // the gateway subscribes users' channels asynchronously
  if (const char* secret = std::getenv("SB_JWT_SECRET")) options.jwt_secret = secret;
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
    else if (flag == "--pairs") ok = ParseNumber(value, &options.pairs);
    else if (flag == "--user-prefix") options.user_prefix = value;
    else if (flag == "--jwt-secret") options.jwt_secret = value;
    else if (flag == "--in-flight") ok = ParseNumber(value, &options.in_flight);
    else if (flag == "--cpu-pid") {
      CpuProcess process;
      const size_t equals = value.find('=');
      std::string_view pid_text = equals == std::string_view::npos ? std::string_view() : value.substr(equals + 1);
      if (!pid_text.empty() && pid_text.back() == '+') {
        process.with_children = true;
        pid_text.remove_suffix(1);
      }
      ok = equals != std::string_view::npos && equals > 0 && ParseNumber(pid_text, &process.pid) && process.pid > 0;
      process.name = value.substr(0, equals == std::string_view::npos ? 0 : equals);
      if (ok) options.cpu_processes.push_back(process);
    }
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
      options.rate < 0 || (options.rate == 0 && options.mode != "chat") || options.threads <= 0 ||
      options.pairs <= 0 || options.in_flight <= 0 || options.source_ips < 0 || options.source_ips > 254) {
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
  if (options.mode == "chat") {
    options.connections = 2 * options.pairs;
    if (options.jwt_secret.size() < 32) {
      std::cerr << "chat needs --jwt-secret (or SB_JWT_SECRET) of at least 32 bytes\n";
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
  // `auth`: this connection's CONNECT auth object (JSON); empty: --auth.
  Connection(asio::any_io_executor strand, const Options& options, const Target& target, Shared& shared,
             std::string auth = {})
      : ws_(strand), options_(options), target_(target), shared_(shared),
        auth_(auth.empty() ? options.auth : std::move(auth)) {}

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

    const std::string connect = "40" + auth_;
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
  std::string auth_;
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

// ---- chat mode ----------------------------------------------------------------------------------
//
// P pairs of users (PREFIX-s{i} sends, PREFIX-r{i} receives), each with its own HS256 token and one
// direct conversation created over REST before the load starts. Every clientMessageId is
// "<run tag>-<sequence>-<send time in ns>", so a recipient times a delivery from the message alone
// and messages of earlier runs are never counted.

// Which measured messages of one pair were acked (created) and which were delivered, by the
// sender's sequence number: lost = acked and never delivered, duplicate = delivered twice.
struct PairLedger {
  std::mutex mu;
  std::unordered_set<uint64_t> acked;
  std::unordered_set<uint64_t> delivered;
  uint64_t duplicates = 0;
};

// What the chat clients report. Plain members are written by the main thread before `go`.
struct ChatShared {
  std::string run_tag;
  std::vector<std::string> conversations;  // conversation id per pair, as a JSON string literal
  std::vector<std::unique_ptr<PairLedger>> ledgers;  // per pair
  int64_t start_ns = 0;                    // first sends are due here
  int64_t measure_from_ns = 0;             // after the warm-up
  int64_t end_ns = 0;                      // no send is due at or after this
  std::atomic<bool> go{false};
  std::atomic<bool> stopping{false};
  // A send is measured when its timestamp is in [measure_from_ns, end_ns); so are its ack and its
  // delivery, attributed by that timestamp.
  std::atomic<uint64_t> sent_total{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> acked_ok{0};        // ok and created
  std::atomic<uint64_t> acked_existing{0};  // ok but created=false (a retry of a stored message)
  std::atomic<uint64_t> acked_error{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> delivered_total{0};
  std::atomic<int64_t> last_ack_ns{0};
  std::atomic<int64_t> last_delivery_ns{0};
  std::atomic<int64_t> late_max_ns{0};
  LatencyHistogram ack_ns;      // send -> ack at the sender
  LatencyHistogram deliver_ns;  // send -> message:new at the recipient
  std::mutex errors_mu;
  std::map<std::string, uint64_t> errors;  // measured error acks by code

  bool Measured(int64_t ts) const { return ts >= measure_from_ns && ts < end_ns; }
  void NoteErrorCode(const std::string& code) {
    std::lock_guard lock(errors_mu);
    ++errors[code];
  }
};

void AtomicMax(std::atomic<int64_t>& target, int64_t value) {
  int64_t seen = target.load(std::memory_order_relaxed);
  while (value > seen && !target.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

// One sender's state; touched only on its connection's strand.
struct ChatSender {
  std::shared_ptr<Connection> connection;
  std::string conversation;  // JSON string literal
  std::string content;       // JSON string literal
  uint64_t next_ack = 0;
  uint64_t next_seq = 0;
  struct Sent {
    int64_t ts;
    uint64_t seq;
  };
  std::unordered_map<uint64_t, Sent> pending;  // ack id -> the send
  PairLedger* ledger = nullptr;
};

void SendChatMessage(ChatSender& sender, ChatShared& chat, const Shared& shared) {
  const int64_t ts = NowNs(shared.epoch);
  const uint64_t ack = sender.next_ack++;
  const uint64_t seq = sender.next_seq++;
  sender.pending.emplace(ack, ChatSender::Sent{ts, seq});
  std::string frame = "42" + std::to_string(ack) + "[\"message:send\",{\"conversationId\":" + sender.conversation +
                      ",\"clientMessageId\":\"" + chat.run_tag + "-" + std::to_string(seq) + "-" +
                      std::to_string(ts) + "\",\"content\":" + sender.content + "}]";
  sender.connection->Send(std::move(frame));
  chat.sent_total.fetch_add(1, std::memory_order_relaxed);
  if (chat.Measured(ts)) chat.sent.fetch_add(1, std::memory_order_relaxed);
}

// The sender's sequence number and send timestamp of a message:new of this run, or nullopt.
struct ChatStamp {
  uint64_t seq;
  int64_t ts;
};
std::optional<ChatStamp> ChatTimestamp(const sio::Packet& packet, const std::string& run_tag) {
  if (packet.type != sio::PacketType::kEvent || sio::EventName(packet) != "message:new") return std::nullopt;
  auto args = sio::Args(packet);
  if (args.empty() || !args[0].is_object()) return std::nullopt;
  const auto* id = args[0].as_object().if_contains("clientMessageId");
  if (id == nullptr || !id->is_string()) return std::nullopt;
  const std::string_view text = id->as_string();
  if (text.size() <= run_tag.size() + 1 || text.substr(0, run_tag.size()) != run_tag || text[run_tag.size()] != '-') {
    return std::nullopt;
  }
  const std::string_view rest = text.substr(run_tag.size() + 1);  // "<seq>-<ts>"
  const size_t dash = rest.find('-');
  ChatStamp stamp{};
  if (dash == std::string_view::npos || !ParseNumber(rest.substr(0, dash), &stamp.seq) ||
      !ParseNumber(rest.substr(dash + 1), &stamp.ts)) {
    return std::nullopt;
  }
  return stamp;
}

// The sender's reader: matches acks to sends (and, closed loop, sends the next message per ack).
// The sender's own copy of each message:new (its other devices' feed) is read and ignored.
asio::awaitable<void> ChatSenderReader(std::shared_ptr<ChatSender> sender, Shared& shared, ChatShared& chat,
                                       const Options& options) {
  const bool closed_loop = options.rate == 0;
  for (;;) {
    auto packet = co_await sender->connection->ReadSocketIoPacket();
    if (!packet) break;
    if (packet->type != sio::PacketType::kAck || !packet->id) continue;
    auto it = sender->pending.find(*packet->id);
    if (it == sender->pending.end()) continue;
    const int64_t ts = it->second.ts;
    const uint64_t seq = it->second.seq;
    sender->pending.erase(it);
    const int64_t now = NowNs(shared.epoch);

    std::string error_code;  // empty: ok
    bool created = true;
    auto args = sio::Args(*packet);
    if (args.empty() || !args[0].is_object()) {
      error_code = "malformed_ack";
    } else {
      const auto& reply = args[0].as_object();
      const auto* ok = reply.if_contains("ok");
      if (ok != nullptr && ok->is_bool() && ok->as_bool()) {
        const auto* data = reply.if_contains("data");
        const auto* flag = data != nullptr && data->is_object() ? data->as_object().if_contains("created") : nullptr;
        if (flag != nullptr && flag->is_bool()) created = flag->as_bool();
      } else {
        const auto* error = reply.if_contains("error");
        const auto* code = error != nullptr && error->is_object() ? error->as_object().if_contains("code") : nullptr;
        error_code = code != nullptr && code->is_string() ? std::string(code->as_string()) : "unknown";
      }
    }
    if (chat.Measured(ts)) {
      chat.ack_ns.Record(static_cast<uint64_t>(std::max<int64_t>(0, now - ts)));
      AtomicMax(chat.last_ack_ns, now);
      if (!error_code.empty()) {
        chat.acked_error.fetch_add(1, std::memory_order_relaxed);
        chat.NoteErrorCode(error_code);
      } else if (created) {
        chat.acked_ok.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(sender->ledger->mu);
        sender->ledger->acked.insert(seq);
      } else {
        chat.acked_existing.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (closed_loop && !chat.stopping.load(std::memory_order_relaxed) && now < chat.end_ns) {
      SendChatMessage(*sender, chat, shared);
    }
  }
  NoteClosed(shared);
}

// One chat user: connects; a recipient then times every message:new of this run; a sender waits
// for `go` and sends (open loop: at rate/pairs per second, staggered across senders; closed loop:
// --in-flight at once, then one per ack).
asio::awaitable<void> ChatUser(std::shared_ptr<Connection> connection, tcp::endpoint server,
                               std::optional<asio::ip::address_v4> source, Shared& shared, ChatShared& chat,
                               const Options& options, int pair, bool is_sender) {
  const bool opened = co_await OpenCounted(connection, server, source, shared);
  if (!opened) co_return;
  if (!is_sender) {
    for (;;) {
      auto packet = co_await connection->ReadSocketIoPacket();
      if (!packet) break;
      auto stamp = ChatTimestamp(*packet, chat.run_tag);
      if (!stamp) continue;
      chat.delivered_total.fetch_add(1, std::memory_order_relaxed);
      if (!chat.Measured(stamp->ts)) continue;
      const int64_t now = NowNs(shared.epoch);
      {
        PairLedger& ledger = *chat.ledgers[static_cast<size_t>(pair)];
        std::lock_guard lock(ledger.mu);
        if (!ledger.delivered.insert(stamp->seq).second) {
          ++ledger.duplicates;
          continue;
        }
      }
      chat.deliver_ns.Record(static_cast<uint64_t>(std::max<int64_t>(0, now - stamp->ts)));
      chat.delivered.fetch_add(1, std::memory_order_relaxed);
      AtomicMax(chat.last_delivery_ns, now);
    }
    NoteClosed(shared);
    co_return;
  }

  auto sender = std::make_shared<ChatSender>();
  sender->connection = connection;
  sender->ledger = chat.ledgers[static_cast<size_t>(pair)].get();
  sender->content = boost::json::serialize(boost::json::value(std::string(options.payload_bytes, 'x')));
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, ChatSenderReader(sender, shared, chat, options), asio::detached);
  asio::steady_timer timer(executor);
  while (!chat.go.load()) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(kAsTuple);
  }
  sender->conversation = chat.conversations[static_cast<size_t>(pair)];
  const int64_t offset_ns = options.rate > 0 ? static_cast<int64_t>(1e9 / options.rate * pair) : 0;
  const int64_t first_ns = chat.start_ns + offset_ns;
  if (first_ns > NowNs(shared.epoch)) {
    timer.expires_at(shared.epoch + std::chrono::nanoseconds(first_ns));
    co_await timer.async_wait(kAsTuple);
  }
  if (options.rate == 0) {
    for (int i = 0; i < options.in_flight && !connection->closed(); ++i) SendChatMessage(*sender, chat, shared);
    co_return;
  }
  // Open loop: sends are due at first + i * period; a late send goes out at once (none skipped),
  // and the worst lateness is reported.
  const double period_ns = 1e9 * options.pairs / options.rate;
  for (uint64_t i = 0;; ++i) {
    const int64_t due_ns = first_ns + static_cast<int64_t>(static_cast<double>(i) * period_ns);
    if (due_ns >= chat.end_ns) break;
    const int64_t now_ns = NowNs(shared.epoch);
    if (due_ns > now_ns) {
      timer.expires_at(shared.epoch + std::chrono::nanoseconds(due_ns));
      co_await timer.async_wait(kAsTuple);
    } else {
      AtomicMax(chat.late_max_ns, now_ns - due_ns);
    }
    if (connection->closed() || chat.stopping.load()) break;
    SendChatMessage(*sender, chat, shared);
  }
}

// POST /api/v1/chat/conversations {participantId} as the token's user (find-or-create of a direct
// conversation): the conversation id, or an error description.
absl::StatusOr<std::string> CreateConversation(const tcp::endpoint& server, const Target& target,
                                               const std::string& token, const std::string& participant) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  boost::system::error_code error;
  stream.connect(server, error);
  if (error) return absl::UnavailableError("connect: " + error.message());
  http::request<http::string_body> request{http::verb::post, "/api/v1/chat/conversations", 11};
  request.set(http::field::host, target.host + ":" + target.port);
  request.set(http::field::authorization, "Bearer " + token);
  request.set(http::field::content_type, "application/json");
  request.body() = boost::json::serialize(boost::json::object{{"participantId", participant}});
  request.prepare_payload();
  http::write(stream, request, error);
  if (error) return absl::UnavailableError("write: " + error.message());
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, error);
  if (error) return absl::UnavailableError("read: " + error.message());
  if (response.result_int() != 200 && response.result_int() != 201) {
    return absl::FailedPreconditionError("HTTP " + std::to_string(response.result_int()) + ": " + response.body());
  }
  boost::json::value body = boost::json::parse(response.body(), error);
  const boost::json::value* id = nullptr;
  if (!error && body.is_object()) {
    const auto* conversation = body.as_object().if_contains("conversation");
    if (conversation != nullptr && conversation->is_object()) id = conversation->as_object().if_contains("id");
  }
  if (id == nullptr) return absl::InvalidArgumentError("no conversation.id in " + response.body());
  if (id->is_string()) return std::string(id->as_string());
  if (id->is_int64()) return std::to_string(id->as_int64());
  return absl::InvalidArgumentError("conversation.id is neither a string nor an integer: " + response.body());
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::vector<CpuByPid> SampleCpu(const Options& options) {
  std::vector<CpuByPid> samples;
  for (const auto& process : options.cpu_processes) {
    if (process.with_children) {
      samples.push_back(ReadCpuSecondsOfTree(process.pid));
    } else {
      CpuByPid one;
      if (auto seconds = ReadCpuSeconds(process.pid)) one[process.pid] = *seconds;
      samples.push_back(std::move(one));
    }
  }
  return samples;
}

void SleepUntilNs(const Shared& shared, int64_t ns) {
  std::this_thread::sleep_until(shared.epoch + std::chrono::nanoseconds(ns));
}

int RunChat(const Options& options, asio::io_context& io, const tcp::endpoint& server, const Target& target,
            Shared& shared) {
  ChatShared chat;
  chat.run_tag = "lg" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  chat.conversations.resize(static_cast<size_t>(options.pairs));
  for (int i = 0; i < options.pairs; ++i) chat.ledgers.push_back(std::make_unique<PairLedger>());
  std::vector<std::string> tokens(static_cast<size_t>(2 * options.pairs));
  auto user_id = [&](int pair, bool is_sender) {
    return options.user_prefix + (is_sender ? "-s" : "-r") + std::to_string(pair);
  };
  for (int i = 0; i < 2 * options.pairs; ++i) {
    sb::auth::Claims claims;
    claims.sub = user_id(i / 2, i % 2 == 0);
    claims.username = claims.sub;
    auto token = sb::auth::MintHs256(claims, options.jwt_secret, absl::Hours(2));
    if (!token.ok()) {
      std::cout << "RESULT mode=chat error=mint_failed" << std::endl;
      std::cerr << "loadgen: cannot mint a token: " << token.status().message() << "\n";
      return 1;
    }
    tokens[static_cast<size_t>(i)] = *token;
  }

  RampUp(options, shared, 2 * options.pairs, [&](int index) {
    auto strand = asio::make_strand(io);
    const std::string auth =
        boost::json::serialize(boost::json::object{{"token", tokens[static_cast<size_t>(index)]}});
    auto connection = std::make_shared<Connection>(strand, options, target, shared, auth);
    asio::co_spawn(strand,
                   ChatUser(connection, server, SourceFor(options, index), shared, chat, options, index / 2,
                            index % 2 == 0),
                   asio::detached);
  });
  if (shared.connected.load() < 2 * options.pairs) {
    std::cout << "RESULT mode=chat error=connect_failed connected=" << shared.connected.load()
              << " failed=" << shared.failed.load() << std::endl;
    return 1;
  }
  // After the users connected: the gateway upserts each into the directory on authentication.
  for (int pair = 0; pair < options.pairs; ++pair) {
    auto id = CreateConversation(server, target, tokens[static_cast<size_t>(2 * pair)], user_id(pair, false));
    if (!id.ok()) {
      std::cout << "RESULT mode=chat error=create_conversation_failed" << std::endl;
      std::cerr << "loadgen: creating the conversation of pair " << pair << ": " << id.status().message() << "\n";
      return 1;
    }
    chat.conversations[static_cast<size_t>(pair)] = boost::json::serialize(boost::json::value(*id));
  }
  std::cout << "READY pairs=" << options.pairs << " connected=" << shared.connected.load() << std::endl;
  SleepSeconds(options.settle_s);

  const int64_t warmup_ns = static_cast<int64_t>(options.warmup_s * 1e9);
  const int64_t duration_ns = static_cast<int64_t>(options.duration_s * 1e9);
  chat.start_ns = NowNs(shared.epoch) + 100'000'000;
  chat.measure_from_ns = chat.start_ns + warmup_ns;
  chat.end_ns = chat.measure_from_ns + duration_ns;
  chat.go = true;

  SleepUntilNs(shared, chat.measure_from_ns);
  const auto cpu_start = SampleCpu(options);
  const double self_start = SelfCpuSeconds();
  SleepUntilNs(shared, chat.end_ns);
  std::cerr << "loadgen: window over: sent " << chat.sent.load() << ", acked " << chat.acked_ok.load()
            << ", delivered " << chat.delivered.load() << "\n";

  // Drain: every measured send answered and every created message delivered, or time is up.
  const auto drain_start = Clock::now();
  auto settled = [&] {
    const uint64_t answered = chat.acked_ok.load() + chat.acked_existing.load() + chat.acked_error.load();
    return answered >= chat.sent.load() && chat.delivered.load() >= chat.acked_ok.load() + chat.acked_error.load();
  };
  while (!settled() && SecondsSince(drain_start) < options.drain_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double drain_s = SecondsSince(drain_start);
  const auto cpu_end = SampleCpu(options);
  const double self_end = SelfCpuSeconds();
  chat.stopping = true;
  shared.stopping = true;

  const uint64_t sent = chat.sent.load();
  const uint64_t acked_ok = chat.acked_ok.load();
  const uint64_t answered = acked_ok + chat.acked_existing.load() + chat.acked_error.load();
  const uint64_t delivered = chat.delivered.load();
  uint64_t lost = 0, duplicates = 0;
  for (const auto& ledger : chat.ledgers) {
    std::lock_guard lock(ledger->mu);
    for (uint64_t seq : ledger->acked) lost += ledger->delivered.count(seq) == 0 ? 1 : 0;
    duplicates += ledger->duplicates;
  }
  const double window_s = options.duration_s;
  // Throughput over the window, stretched to the last ack/delivery when the servers fell behind.
  const double ack_span_s =
      std::max(window_s, static_cast<double>(chat.last_ack_ns.load() - chat.measure_from_ns) / 1e9);
  const double delivery_span_s =
      std::max(window_s, static_cast<double>(chat.last_delivery_ns.load() - chat.measure_from_ns) / 1e9);
  std::string errors;
  {
    std::lock_guard lock(chat.errors_mu);
    for (const auto& [code, count] : chat.errors) {
      errors += (errors.empty() ? "" : ",") + code + ":" + std::to_string(count);
    }
  }
  auto us = [](uint64_t ns) { return Fixed(static_cast<double>(ns) / 1e3, 1); };
  std::cout << "RESULT mode=chat pairs=" << options.pairs << " connected=" << shared.connected.load()
            << " dropped=" << shared.dropped.load() << " rate=" << Fixed(options.rate, 0)
            << (options.rate == 0 ? " in_flight=" + std::to_string(options.in_flight) : std::string())
            << " sent=" << sent << " acked_ok=" << acked_ok << " acked_existing=" << chat.acked_existing.load()
            << " acked_error=" << chat.acked_error.load() << " unanswered=" << (sent > answered ? sent - answered : 0)
            << " errors=" << (errors.empty() ? "none" : errors) << " delivered=" << delivered
            << " lost=" << lost << " duplicates=" << duplicates
            << " sent_per_s=" << Fixed(static_cast<double>(sent) / window_s, 0)
            << " acked_per_s=" << Fixed(static_cast<double>(acked_ok) / ack_span_s, 0)
            << " delivered_per_s=" << Fixed(static_cast<double>(delivered) / delivery_span_s, 0)
            << " ack_p50_us=" << us(chat.ack_ns.Percentile(0.50)) << " ack_p99_us=" << us(chat.ack_ns.Percentile(0.99))
            << " deliver_p50_us=" << us(chat.deliver_ns.Percentile(0.50))
            << " deliver_p99_us=" << us(chat.deliver_ns.Percentile(0.99))
            << " deliver_p999_us=" << us(chat.deliver_ns.Percentile(0.999))
            << " deliver_max_us=" << us(chat.deliver_ns.max()) << " drain_s=" << Fixed(drain_s, 3)
            << " sender_late_max_ms=" << Fixed(static_cast<double>(chat.late_max_ns.load()) / 1e6, 1);
  double cpu_total = 0;
  for (size_t i = 0; i < options.cpu_processes.size(); ++i) {
    const double seconds = CpuBetween(cpu_start[i], cpu_end[i]);
    cpu_total += seconds;
    std::cout << " cpu_" << options.cpu_processes[i].name << "_s=" << Fixed(seconds, 3);
  }
  if (!options.cpu_processes.empty()) {
    // Per message the servers handled: when acks time out under overload, deliveries still count.
    const uint64_t handled = std::max(acked_ok, delivered);
    std::cout << " cpu_servers_s=" << Fixed(cpu_total, 3) << " cpu_us_per_msg="
              << Fixed(handled > 0 ? cpu_total / static_cast<double>(handled) * 1e6 : 0.0, 1);
  }
  std::cout << " cpu_loadgen_s=" << Fixed(self_end - self_start, 3) << std::endl;
  if (shared.malformed.load() > 0) std::cerr << "loadgen: " << shared.malformed.load() << " malformed packets\n";
  return sent > 0 && acked_ok == sent && lost == 0 && shared.failed.load() == 0 ? 0 : 1;
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
  int status = 0;
  if (options->mode == "idle") status = RunIdle(*options, io, server, *target, shared);
  else if (options->mode == "broadcast") status = RunBroadcast(*options, io, server, *target, shared);
  else status = RunChat(*options, io, server, *target, shared);
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
