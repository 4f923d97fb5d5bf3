// Socket.IO v5 server (socket.io 4.x behaviour) over the Engine.IO server: namespaces, middleware,
// events with acknowledgements both ways, rooms and local broadcasts, binary attachments and
// connection state recovery.
//
//   sb::socketio::server::Server io(engine, {});
//   io.Of("/").OnConnection([](std::shared_ptr<Socket> socket) {
//     socket->On("message", [](Socket& s, Message& msg, Ack ack) { s.Emit("message-back", msg.args); });
//   });
//
// Threading: each client connection (Engine.IO session) has a strand. Middleware, connection,
// event, ack and disconnect handlers of a socket run on its strand, one at a time, in arrival
// order. Register a socket's handlers (On/OnAny/OnDisconnect) in the connection handler. Emit,
// EmitWithAck, Join, Leave, Disconnect and the broadcast operators may be called from any thread.
//
// Protocol errors: a malformed packet closes that client's connection ("parse error"); an EVENT or
// ACK for a namespace the client has not joined closes it too ("forced server close"), as the
// reference server does; CONNECT to an unknown namespace gets CONNECT_ERROR "Invalid namespace".
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/status.h"
#include "sb/socketio/server/engine.h"
#include "sb/socketio/server/recovery.h"
#include "sb/socketio/socketio.h"

namespace sb::socketio::server {

// Disconnect reasons, as the reference server names them.
namespace reason {
inline constexpr std::string_view kClientNamespaceDisconnect = "client namespace disconnect";
inline constexpr std::string_view kServerNamespaceDisconnect = "server namespace disconnect";
inline constexpr std::string_view kTransportClose = "transport close";
inline constexpr std::string_view kTransportError = "transport error";
inline constexpr std::string_view kPingTimeout = "ping timeout";
inline constexpr std::string_view kParseError = "parse error";
inline constexpr std::string_view kServerShuttingDown = "server shutting down";
inline constexpr std::string_view kForcedClose = "forced close";
inline constexpr std::string_view kForcedServerClose = "forced server close";
}  // namespace reason

class Namespace;
class Server;
class Socket;
class ClientConnection;

// What the socket saw of its connection's opening request and its CONNECT packet.
struct Handshake {
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::vector<std::pair<std::string, std::string>> query;
  std::string url;
  std::string address;
  int64_t issued_ms = 0;       // ms since the Unix epoch
  boost::json::object auth;    // CONNECT payload (without the recovery pid/offset)
  std::optional<std::string_view> Header(std::string_view name) const;
  std::optional<std::string_view> Query(std::string_view name) const;
};

// A received event or ack: arguments after the event name, with binary placeholders resolved via
// `attachments` (see sb/socketio/socketio.h, "Binary data model"; use Buffer()).
struct Message {
  std::string event;  // empty for acks
  boost::json::array args;
  std::vector<std::string> attachments;
  // The bytes of `value` when it is a binary placeholder of this message, else nullptr.
  const std::string* Buffer(const boost::json::value& value) const;
};

// Answers one client ack request; copyable, the first call wins, callable from any thread.
// Empty (operator bool false) when the client asked for no ack.
class Ack {
 public:
  Ack() = default;
  explicit Ack(std::function<void(boost::json::array, std::vector<std::string>)> fn);
  void operator()(boost::json::array args = {}, std::vector<std::string> buffers = {}) const;
  explicit operator bool() const { return state_ != nullptr; }

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using EventHandler = std::function<void(Socket&, Message&, Ack)>;
using AnyHandler = std::function<void(Socket&, Message&)>;
using DisconnectHandler = std::function<void(Socket&, std::string_view reason)>;
// status: OK with the client's ack arguments, DeadlineExceeded on timeout, Unavailable when the
// socket disconnected first.
using AckCallback = std::function<void(absl::Status, Message&)>;

// A refusal from middleware, sent as CONNECT_ERROR {"message": message, "data": data}.
struct ConnectError {
  std::string message;
  std::optional<boost::json::value> data;
};
// Continues (nullopt) or refuses (an error) the connection. Call once, from any thread.
using Next = std::function<void(std::optional<ConnectError>)>;
using Middleware = std::function<void(Socket&, const boost::json::object& auth, Next)>;
using ConnectionHandler = std::function<void(std::shared_ptr<Socket>)>;

// Selects sockets of one namespace by rooms and emits to them (local process only).
class BroadcastOperator {
 public:
  BroadcastOperator& To(std::string room);
  BroadcastOperator& In(std::string room) { return To(std::move(room)); }
  BroadcastOperator& Except(std::string room);
  // Emits to every selected socket; with recovery enabled the offset is appended (and returned).
  std::optional<std::string> Emit(std::string_view event, boost::json::array args = {},
                                  std::vector<std::string> buffers = {});
  // Emits with a known offset (e.g. a Redis stream id from the bus) instead of asking the store.
  void EmitWithOffset(std::string offset, std::string_view event, boost::json::array args,
                      std::vector<std::string> buffers = {});
  // The selected sockets' ids.
  std::vector<std::string> SocketIds() const;
  void DisconnectSockets(bool close_connection = false);

 private:
  friend class Namespace;
  explicit BroadcastOperator(Namespace& nsp) : nsp_(&nsp) {}
  Namespace* nsp_;
  std::vector<std::string> rooms_;
  std::vector<std::string> except_;
};

class Socket : public std::enable_shared_from_this<Socket> {
 public:
  ~Socket();
  // Public id (also a room); the client sees it as socket.id.
  const std::string& id() const { return id_; }
  // Private id for recovery (empty when recovery is off).
  const std::string& pid() const { return pid_; }
  Namespace& nsp() const { return *nsp_; }
  const Handshake& handshake() const { return handshake_; }
  bool connected() const { return connected_.load(); }
  // True when this socket resumed an earlier one via connection state recovery.
  bool recovered() const { return recovered_; }
  // The Engine.IO session id of the underlying connection. Fixed at construction and owned by the
  // socket, so it is safe from any thread and stays valid after the connection is gone.
  const std::string& connection_id() const { return connection_id_; }
  // Application data restored by connection state recovery (JSON so that any store can hold it).
  // Strand only.
  boost::json::value& data() { return data_; }
  // Any local per-socket state (not recovered). Strand only.
  std::any& user() { return user_; }

  void On(std::string event, EventHandler handler);
  // Observes every event (before its handler); cannot answer acks.
  void OnAny(AnyHandler handler);
  // Handles events that have no handler registered with On(), with their ack, so an application
  // can answer unknown events with an error ack instead of leaving the client waiting.
  void OnUnhandled(EventHandler handler);
  void OnDisconnect(DisconnectHandler handler);

  // Emits an event to this client. Thread-safe. With recovery enabled an offset is appended.
  void Emit(std::string_view event, boost::json::array args = {}, std::vector<std::string> buffers = {});
  // Emits and waits for the client's ack; `callback` runs on the strand exactly once, never inline
  // (also when the socket is already disconnected).
  void EmitWithAck(std::string_view event, boost::json::array args, std::vector<std::string> buffers,
                   std::chrono::milliseconds timeout, AckCallback callback);

  void Join(const std::string& room);
  void Leave(const std::string& room);
  std::vector<std::string> Rooms() const;
  // Broadcast to others: every socket in `room` but this one.
  BroadcastOperator To(std::string room);

  // Leaves the namespace ("server namespace disconnect"); with close_connection the whole client
  // connection closes too. Thread-safe.
  void Disconnect(bool close_connection = false);

 private:
  friend class ClientConnection;
  friend class Namespace;
  friend class BroadcastOperator;
  Socket(Namespace& nsp, std::shared_ptr<ClientConnection> client, std::string id, std::string pid,
         Handshake handshake);

  void SendPacket(const sio::Packet& packet);
  void SendEncoded(std::vector<eio::Packet> packets);
  void OnEvent(sio::Packet packet);
  void OnAck(sio::Packet packet);
  void OnClose(std::string_view reason, bool notify_client);

  Namespace* nsp_;
  std::weak_ptr<ClientConnection> client_;
  std::string connection_id_;        // the Engine.IO session id, copied at construction
  EngineSession::Strand strand_;     // the connection's strand (kept usable after it closes)
  std::string id_;
  std::string pid_;
  Handshake handshake_;
  std::atomic<bool> connected_{false};
  bool recovered_ = false;
  boost::json::value data_;
  std::any user_;
  std::unordered_map<std::string, EventHandler> handlers_;
  std::vector<AnyHandler> any_handlers_;
  EventHandler unhandled_handler_;
  std::vector<DisconnectHandler> disconnect_handlers_;
  struct PendingAck;
  std::map<uint64_t, std::shared_ptr<PendingAck>> pending_acks_;
  uint64_t next_ack_id_ = 0;
};

class Namespace {
 public:
  const std::string& name() const { return name_; }
  Server& server() const { return server_; }

  // Middleware runs in registration order for every CONNECT to this namespace (skipped for
  // recovered sessions, like the reference server's default skipMiddlewares).
  void Use(Middleware middleware);
  void OnConnection(ConnectionHandler handler);

  BroadcastOperator To(std::string room);
  BroadcastOperator In(std::string room) { return To(std::move(room)); }
  BroadcastOperator Except(std::string room);
  // Emits to every socket of the namespace.
  std::optional<std::string> Emit(std::string_view event, boost::json::array args = {},
                                  std::vector<std::string> buffers = {});

  size_t socket_count() const;
  size_t room_count() const;  // rooms other than the sockets' own id rooms
  std::shared_ptr<Socket> FindSocket(std::string_view id) const;

 private:
  friend class Server;
  friend class Socket;
  friend class ClientConnection;
  friend class BroadcastOperator;
  Namespace(Server& server, std::string name) : server_(server), name_(std::move(name)) {}

  std::vector<std::shared_ptr<Socket>> Select(const std::vector<std::string>& rooms,
                                              const std::vector<std::string>& except) const;
  void AddSocket(const std::shared_ptr<Socket>& socket, const std::vector<std::string>& rooms);
  void RemoveSocket(Socket& socket);
  void JoinLocked(Socket& socket, const std::string& room);
  void Broadcast(const std::vector<std::string>& rooms, const std::vector<std::string>& except,
                 std::optional<std::string> offset, std::string_view event, boost::json::array args,
                 std::vector<std::string> buffers, std::optional<std::string>* assigned_offset);

  Server& server_;
  std::string name_;
  std::vector<Middleware> middleware_;
  ConnectionHandler on_connection_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Socket>> sockets_;
  std::unordered_map<std::string, std::unordered_set<std::string>> rooms_;      // room -> socket ids
  std::unordered_map<std::string, std::set<std::string>> socket_rooms_;        // socket id -> rooms
};

struct ServerOptions {
  // Closes a connection that joins no namespace within this time (reference connectTimeout).
  std::chrono::milliseconds connect_timeout{45'000};
  // Connection state recovery: off unless a store is set. The echo server and tests use
  // InMemoryRecoveryStore; the gateway a Redis-backed one.
  std::shared_ptr<RecoveryStore> recovery_store;
  sio::DecodeOptions decode;
};

class Server {
 public:
  // Takes over `engine`'s connection handler. Both must outlive the io_context's threads.
  Server(EngineServer& engine, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The namespace `name` ("/" always exists), created on first use. Set up namespaces before
  // serving; the reference is stable for the server's lifetime.
  Namespace& Of(const std::string& name);
  // Called for a CONNECT to a namespace that does not exist; return true to create it (its
  // middleware/handlers must then be set up inside the hook, e.g. via Of(name)).
  void SetDynamicNamespaceHook(std::function<bool(const std::string& name, const boost::json::object& auth)> hook);

  bool recovery_enabled() const { return options_.recovery_store != nullptr; }
  const ServerOptions& options() const { return options_; }
  EngineServer& engine() { return engine_; }

  // Disconnects every socket ("server shutting down") and closes every connection; clients reconnect
  // elsewhere. Returns at once.
  void Close();

  struct Counters {
    std::atomic<uint64_t> connections{0};        // live client connections
    std::atomic<uint64_t> sockets{0};            // live sockets, all namespaces
    std::atomic<uint64_t> connects{0};           // successful namespace connects
    std::atomic<uint64_t> recovered{0};          // of which recovered
    std::atomic<uint64_t> refused_middleware{0};
    std::atomic<uint64_t> refused_namespace{0};
    std::atomic<uint64_t> parse_errors{0};
    std::atomic<uint64_t> events_in{0};
    std::atomic<uint64_t> events_out{0};
    std::atomic<uint64_t> acks_timed_out{0};
  };
  const Counters& counters() const { return counters_; }
  // Socket count per namespace, for metrics.
  std::vector<std::pair<std::string, size_t>> SocketsPerNamespace() const;

 private:
  friend class ClientConnection;
  friend class Socket;
  friend class Namespace;
  Namespace* FindNamespace(const std::string& name, const boost::json::object& auth);

  EngineServer& engine_;
  ServerOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces_;
  std::function<bool(const std::string&, const boost::json::object&)> dynamic_hook_;
  Counters counters_;
};

}  // namespace sb::socketio::server
