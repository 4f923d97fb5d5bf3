// sb-sio-echo: a Socket.IO test server shaped like the reference test server of the Socket.IO
// protocol documentation, plus a few extras for end-to-end tests.
//
//   "/" and "/custom": on connection emit "auth" with the CONNECT auth payload;
//     "message"           -> emits "message-back" with the same arguments (binary included)
//     "message-with-ack"  -> acks with the same arguments
//     any other event     -> acked with {"error":"unknown event: <name>"} when it asks for an ack
//     "join" (room)       -> joins the room, acks true
//     "broadcast-to-room" (room, ...args) -> emits "room-event" (...args) to everyone in the room
//     "call-me" (...args) -> EmitWithAck("ping-client", ...args) to the caller (5 s timeout); acks the
//                            call with {"ok":true,"args":[client's ack args]} or {"ok":false,"error":"..."}
//     "disconnect-me"     -> server-side disconnect of this socket
//     "close-me"          -> emits "bye", then disconnects the socket and closes its connection
//   "/forbidden": middleware refuses with {"message":"forbidden","data":{"reason":"test"}}.
//
// Flags: --host (0.0.0.0) --port (0: ephemeral) --path (/socket.io/) --ping-interval ms (25000)
//        --ping-timeout ms (20000) --max-payload bytes (1000000) --recovery on|off (off)
//        --recovery-window ms (120000) --threads N (1) --connect-timeout ms (45000)
// The protocol test suite uses --ping-interval 300 --ping-timeout 200; the defaults are the
// reference server's. Prints "listening on PORT" once ready; SIGTERM/SIGINT shut down gracefully.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "sb/common/log.h"
#include "sb/common/shutdown.h"
#include "sb/socketio/server/engine.h"
#include "sb/socketio/server/http.h"
#include "sb/socketio/server/recovery.h"
#include "sb/socketio/server/server.h"

namespace sio = sb::socketio::server;

namespace {

struct Flags {
  std::string host = "0.0.0.0";
  int port = 0;
  std::string path = "/socket.io/";
  long ping_interval = 25'000;
  long ping_timeout = 20'000;
  long max_payload = 1'000'000;
  bool recovery = false;
  long recovery_window = 120'000;
  int threads = 1;
  long connect_timeout = 45'000;
};

bool ParseFlags(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "missing value for " << arg << "\n";
      return false;
    }
    try {
      if (arg == "--host") f.host = value;
      else if (arg == "--port") f.port = std::stoi(value);
      else if (arg == "--path") f.path = value;
      else if (arg == "--ping-interval") f.ping_interval = std::stol(value);
      else if (arg == "--ping-timeout") f.ping_timeout = std::stol(value);
      else if (arg == "--max-payload") f.max_payload = std::stol(value);
      else if (arg == "--recovery") f.recovery = value == "on" || value == "true" || value == "1";
      else if (arg == "--recovery-window") f.recovery_window = std::stol(value);
      else if (arg == "--threads") f.threads = std::max(1, std::stoi(value));
      else if (arg == "--connect-timeout") f.connect_timeout = std::stol(value);
      else {
        std::cerr << "unknown flag " << arg << "\n";
        return false;
      }
    } catch (const std::exception&) {
      std::cerr << "bad value for " << arg << ": " << value << "\n";
      return false;
    }
  }
  return true;
}

void SetUpEchoNamespace(sio::Namespace& ns) {
  ns.OnConnection([&ns](std::shared_ptr<sio::Socket> socket) {
    socket->Emit("auth", {socket->handshake().auth});
    socket->On("message", [](sio::Socket& s, sio::Message& msg, sio::Ack) {
      s.Emit("message-back", msg.args, msg.attachments);
    });
    socket->On("message-with-ack", [](sio::Socket&, sio::Message& msg, sio::Ack ack) {
      if (ack) ack(msg.args, msg.attachments);
    });
    socket->On("join", [](sio::Socket& s, sio::Message& msg, sio::Ack ack) {
      if (!msg.args.empty() && msg.args[0].is_string()) s.Join(std::string(msg.args[0].as_string()));
      if (ack) ack({true});
    });
    socket->On("broadcast-to-room", [&ns](sio::Socket&, sio::Message& msg, sio::Ack ack) {
      if (msg.args.empty() || !msg.args[0].is_string()) return;
      std::string room(msg.args[0].as_string());
      boost::json::array rest(msg.args.begin() + 1, msg.args.end());
      ns.To(room).Emit("room-event", std::move(rest), msg.attachments);
      if (ack) ack({true});
    });
    socket->On("call-me", [](sio::Socket& s, sio::Message& msg, sio::Ack ack) {
      s.EmitWithAck("ping-client", msg.args, msg.attachments, std::chrono::seconds(5),
                    [ack](absl::Status status, sio::Message& reply) {
                      if (!ack) return;
                      if (status.ok()) {
                        ack({boost::json::object{{"ok", true}, {"args", reply.args}}}, reply.attachments);
                      } else {
                        ack({boost::json::object{{"ok", false}, {"error", std::string(status.message())}}});
                      }
                    });
    });
    socket->On("disconnect-me", [](sio::Socket& s, sio::Message&, sio::Ack) { s.Disconnect(false); });
    socket->On("close-me", [](sio::Socket& s, sio::Message&, sio::Ack) {
      s.Emit("bye", {boost::json::value("bye")});
      s.Disconnect(true);
    });
    // Not in the reference test server: shows OnUnhandled answering events nobody handles.
    socket->OnUnhandled([](sio::Socket&, sio::Message& msg, sio::Ack ack) {
      if (ack) ack({boost::json::object{{"error", "unknown event: " + msg.event}}});
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) return 2;
  sb::log::Init("sb-sio-echo", sb::log::Level::kWarn);
  sb::Shutdown shutdown;  // before any thread starts: signals are blocked in all of them

  boost::asio::io_context io(flags.threads);
  sio::EngineOptions engine_options;
  engine_options.path = flags.path;
  engine_options.ping_interval = std::chrono::milliseconds(flags.ping_interval);
  engine_options.ping_timeout = std::chrono::milliseconds(flags.ping_timeout);
  engine_options.max_payload = static_cast<size_t>(flags.max_payload);
  engine_options.cors_origins = {"*"};
  sio::EngineServer engine(io, engine_options);

  sio::ServerOptions server_options;
  server_options.connect_timeout = std::chrono::milliseconds(flags.connect_timeout);
  if (flags.recovery) {
    server_options.recovery_store =
        std::make_shared<sio::InMemoryRecoveryStore>(std::chrono::milliseconds(flags.recovery_window));
  }
  sio::Server server(engine, server_options);
  SetUpEchoNamespace(server.Of("/"));
  SetUpEchoNamespace(server.Of("/custom"));
  server.Of("/forbidden").Use([](sio::Socket&, const boost::json::object&, sio::Next next) {
    next(sio::ConnectError{"forbidden", boost::json::value(boost::json::object{{"reason", "test"}})});
  });

  sio::HttpServerOptions http_options;
  http_options.host = flags.host;
  http_options.port = static_cast<uint16_t>(flags.port);
  http_options.max_body_bytes = std::max<size_t>(engine_options.max_payload * 2, 1'000'000);
  sio::HttpServer http(io, http_options, &engine,
                       [&engine](const sio::Request&, const sio::RequestInfo& info, sio::Responder respond) {
                         if (info.path == "/healthz") {
                           respond(sio::MakeResponse(sio::http::status::ok, "application/json",
                                                     "{\"status\":\"ok\",\"sessions\":" +
                                                         std::to_string(engine.session_count()) + "}"));
                           return;
                         }
                         respond(sio::MakeResponse(sio::http::status::not_found, "application/json",
                                                   R"({"error":{"code":"not_found","message":"not found"}})"));
                       });
  auto port = http.Start();
  if (!port.ok()) {
    std::cerr << port.status() << "\n";
    return 1;
  }

  std::vector<std::thread> threads;
  for (int i = 0; i < flags.threads; ++i) threads.emplace_back([&io] { io.run(); });
  std::cout << "listening on " << *port << std::endl;

  shutdown.WaitForSignal();
  http.StopAccepting();
  server.Close();
  // Give clients a moment to receive their close frames, bounded.
  for (int i = 0; i < 50 && engine.session_count() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  io.stop();
  for (auto& t : threads) t.join();
  return 0;
}
