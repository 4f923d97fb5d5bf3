// sb-bench-server: our Socket.IO server with exactly the handlers and settings of the reference
// server (tools/bench/reference/server.mjs), so tools/bench/run measures both doing the same work.
//
//   sb-bench-server [--port N] [--host 127.0.0.1] [--threads T]     (port 0 picks a free one)
//
// Prints "listening on PORT" once it accepts connections; SIGINT/SIGTERM stop it. Handlers:
//   "join"      (room, ack)   -> socket.join(room); ack()
//   "broadcast" ({room, ...}) -> io.to(room).emit("bcast", payload)   (payload forwarded unchanged)
// Settings as the reference: path /socket.io/, polling + websocket, no compression, pingInterval
// 25 s, pingTimeout 20 s, maxHttpBufferSize 1e6.
#include <charconv>
#include <csignal>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>

#include "sb/common/log.h"
#include "sb/socketio/server/engine.h"
#include "sb/socketio/server/http.h"
#include "sb/socketio/server/server.h"

namespace {

namespace sios = sb::socketio::server;

struct Flags {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int threads = 1;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string_view value = argv[++i];
    auto parse = [&](auto* out) {
      auto [ptr, error] = std::from_chars(value.data(), value.data() + value.size(), *out);
      return error == std::errc() && ptr == value.data() + value.size();
    };
    if (flag == "--host") flags->host = value;
    else if (flag == "--port") { if (!parse(&flags->port)) return false; }
    else if (flag == "--threads") { if (!parse(&flags->threads) || flags->threads < 1) return false; }
    else return false;
  }
  return true;
}

void InstallHandlers(sios::Server& io) {
  io.Of("/").OnConnection([](std::shared_ptr<sios::Socket> socket) {
    socket->On("join", [](sios::Socket& s, sios::Message& message, sios::Ack ack) {
      if (!message.args.empty() && message.args[0].is_string()) {
        s.Join(std::string(message.args[0].as_string()));
      }
      if (ack) ack();
    });
    socket->On("broadcast", [](sios::Socket& s, sios::Message& message, sios::Ack) {
      if (message.args.empty() || !message.args[0].is_object()) return;
      const auto* room = message.args[0].as_object().if_contains("room");
      if (room == nullptr || !room->is_string()) return;
      s.nsp().To(std::string(room->as_string())).Emit("bcast", boost::json::array{message.args[0]});
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::cerr << "usage: sb-bench-server [--port N] [--host ADDR] [--threads T]\n";
    return 2;
  }
  // Only warnings and errors: a log line per connection would be measured as server CPU.
  sb::log::Init("sb-bench-server", sb::log::Level::kWarn);

  boost::asio::io_context io(flags.threads);

  sios::EngineOptions engine_options;
  engine_options.path = "/socket.io/";
  engine_options.ping_interval = std::chrono::milliseconds(25'000);
  engine_options.ping_timeout = std::chrono::milliseconds(20'000);
  engine_options.max_payload = 1'000'000;
  engine_options.allow_polling = true;
  engine_options.allow_websocket = true;
  sios::EngineServer engine(io, engine_options);

  sios::Server socket_io(engine, {});
  InstallHandlers(socket_io);

  sios::HttpServerOptions http_options;
  http_options.host = flags.host;
  http_options.port = flags.port;
  http_options.max_body_bytes = 1'000'000;
  sios::HttpServer http(io, http_options, &engine,
                        [](const sios::Request&, const sios::RequestInfo&, sios::Responder respond) {
                          respond(sios::MakeResponse(sios::http::status::not_found, "text/plain",
                                                     "not found\n"));
                        });
  auto port = http.Start();
  if (!port.ok()) {
    std::cerr << "sb-bench-server: " << port.status() << "\n";
    return 1;
  }
  std::cout << "listening on " << *port << std::endl;

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    http.StopAccepting();
    socket_io.Close();
    io.stop();
  });

  std::vector<std::thread> threads;
  for (int i = 1; i < flags.threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : threads) thread.join();
  return 0;
}
