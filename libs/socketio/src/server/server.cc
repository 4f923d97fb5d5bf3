#include "sb/socketio/server/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/match.h"
#include "sb/common/log.h"
#include "sb/socketio/reassembler.h"

namespace sb::socketio::server {
namespace net = boost::asio;

namespace {

bool IsRecoverable(std::string_view why) {
  return why == reason::kTransportError || why == reason::kTransportClose || why == reason::kForcedClose ||
         why == reason::kPingTimeout || why == reason::kServerShuttingDown || why == reason::kForcedServerClose;
}

std::optional<std::string_view> FindQuery(const std::vector<std::pair<std::string, std::string>>& query,
                                          std::string_view name) {
  for (const auto& [k, val] : query) {
    if (k == name) return std::string_view(val);
  }
  return std::nullopt;
}

// Moves the payload of a validated EVENT/ACK packet into a Message.
Message ToMessage(sio::Packet& packet) {
  Message msg;
  if (packet.data && packet.data->is_array()) {
    auto& arr = packet.data->as_array();
    if (packet.type == sio::PacketType::kEvent || packet.type == sio::PacketType::kBinaryEvent) {
      if (!arr.empty() && arr[0].is_string()) msg.event = std::string(arr[0].as_string());
      if (!arr.empty()) arr.erase(arr.begin());
    }
    msg.args = std::move(arr);
  }
  msg.attachments = std::move(packet.attachments);
  return msg;
}

}  // namespace

std::optional<std::string_view> Handshake::Header(std::string_view name) const { return FindHeader(headers, name); }
std::optional<std::string_view> Handshake::Query(std::string_view name) const { return FindQuery(query, name); }

const std::string* Message::Buffer(const boost::json::value& value) const {
  if (attachments.empty() || !sio::IsPlaceholder(value)) return nullptr;
  const auto* num = value.as_object().if_contains("num");
  if (!num || !num->is_int64()) return nullptr;
  const int64_t n = num->as_int64();
  if (n < 0 || static_cast<size_t>(n) >= attachments.size()) return nullptr;
  return &attachments[static_cast<size_t>(n)];
}

struct Ack::State {
  std::function<void(boost::json::array, std::vector<std::string>)> fn;
  std::atomic<bool> done{false};
};

Ack::Ack(std::function<void(boost::json::array, std::vector<std::string>)> fn)
    : state_(std::make_shared<State>()) {
  state_->fn = std::move(fn);
}

void Ack::operator()(boost::json::array args, std::vector<std::string> buffers) const {
  if (!state_ || state_->done.exchange(true)) return;
  state_->fn(std::move(args), std::move(buffers));
}

// ---- ClientConnection: the Socket.IO side of one Engine.IO session ------------------------------

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(Server& server, std::shared_ptr<EngineSession> session)
      : server_(server), session_(std::move(session)), reassembler_(server.options_.decode) {}

  void Start() {
    server_.counters_.connections.fetch_add(1, std::memory_order_relaxed);
    connect_timer_ = std::make_unique<net::steady_timer>(session_->strand());
    connect_timer_->expires_after(server_.options_.connect_timeout);
    connect_timer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_) return;
      if (self->sockets_.empty()) self->session_->Close(std::string(reason::kForcedServerClose));
    });
  }

  void OnMessage(eio::Packet message) {
    if (closed_) return;
    auto result = reassembler_.Add(std::move(message));
    if (!result.ok()) {
      server_.counters_.parse_errors.fetch_add(1, std::memory_order_relaxed);
      sb::log::Info("socket.io parse error, closing connection",
                    {{"sid", session_->id()}, {"error", std::string(result.status().message())}});
      session_->Close(std::string(reason::kParseError));
      return;
    }
    if (!result->has_value()) return;
    sio::Packet packet = std::move(**result);
    auto it = sockets_.find(packet.nsp);
    Socket* socket = it == sockets_.end() ? nullptr : it->second.get();
    switch (packet.type) {
      case sio::PacketType::kConnect:
        if (socket || connecting_.count(packet.nsp)) return Invalid();
        return Connect(std::move(packet));
      case sio::PacketType::kDisconnect:
        if (socket) socket->OnClose(reason::kClientNamespaceDisconnect, false);
        return;
      case sio::PacketType::kEvent:
      case sio::PacketType::kBinaryEvent:
        if (!socket) return Invalid();
        server_.counters_.events_in.fetch_add(1, std::memory_order_relaxed);
        return socket->OnEvent(std::move(packet));
      case sio::PacketType::kAck:
      case sio::PacketType::kBinaryAck:
        if (!socket) return Invalid();
        return socket->OnAck(std::move(packet));
      case sio::PacketType::kConnectError:
        return Invalid();
    }
  }

  void OnClose(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    if (connect_timer_) connect_timer_->cancel();
    server_.counters_.connections.fetch_sub(1, std::memory_order_relaxed);
    auto sockets = std::move(sockets_);
    sockets_.clear();
    for (auto& [nsp, socket] : sockets) socket->OnClose(why, false);
  }

  // Strand only.
  void ForgetSocket(const std::string& nsp) { sockets_.erase(nsp); }

  // Disconnects every socket with DISCONNECT packets, then closes the connection.
  void DisconnectAll() {
    auto sockets = std::move(sockets_);
    sockets_.clear();
    for (auto& [nsp, socket] : sockets) socket->OnClose(reason::kServerNamespaceDisconnect, true);
    session_->Close(std::string(reason::kForcedServerClose));
  }

  const std::shared_ptr<EngineSession>& session() const { return session_; }
  Server& server() { return server_; }

 private:
  void Invalid() {
    sb::log::Info("socket.io packet in an invalid state, closing connection", {{"sid", session_->id()}});
    session_->Close(std::string(reason::kForcedServerClose));
  }

  void Send(const sio::Packet& packet) {
    auto encoded = sio::EncodeToEngineIo(packet);
    if (encoded.ok()) session_->Send(std::move(*encoded));
  }

  void Connect(sio::Packet packet) {
    boost::json::object auth;
    if (packet.data && packet.data->is_object()) auth = std::move(packet.data->as_object());
    Namespace* ns = server_.FindNamespace(packet.nsp, auth);
    if (!ns) {
      server_.counters_.refused_namespace.fetch_add(1, std::memory_order_relaxed);
      return Send(sio::MakeConnectError(packet.nsp, "Invalid namespace"));
    }
    connecting_.insert(packet.nsp);
    std::optional<std::string> pid, offset;
    if (auto* p = auth.if_contains("pid"); p && p->is_string()) pid = std::string(p->as_string());
    if (auto* o = auth.if_contains("offset"); o && o->is_string()) offset = std::string(o->as_string());
    auth.erase("pid");
    auth.erase("offset");

    Handshake handshake;
    const auto& req = session_->request();
    handshake.headers = req.headers;
    handshake.query = req.query;
    handshake.url = req.target;
    handshake.address = req.remote_address;
    handshake.issued_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    handshake.auth = std::move(auth);

    auto& store = server_.options_.recovery_store;
    if (store && pid && offset) {
      store->Restore(ns->name(), *pid, *offset,
                     [self = shared_from_this(), ns, handshake = std::move(handshake)](
                         std::optional<RecoveredSession> recovered) mutable {
                       net::dispatch(self->session_->strand(), [self, ns, handshake = std::move(handshake),
                                                                recovered = std::move(recovered)]() mutable {
                         if (self->closed_) return;
                         if (recovered) {
                           self->Recover(*ns, std::move(handshake), std::move(*recovered));
                         } else {
                           self->StartMiddleware(*ns, std::move(handshake));
                         }
                       });
                     });
      return;
    }
    StartMiddleware(*ns, std::move(handshake));
  }

  void StartMiddleware(Namespace& ns, Handshake handshake) {
    const bool recovery = server_.recovery_enabled();
    std::shared_ptr<Socket> socket(new Socket(ns, shared_from_this(), GenerateId(),
                                              recovery ? GenerateId() : std::string(), std::move(handshake)));
    RunMiddleware(std::move(socket), 0);
  }

  void Recover(Namespace& ns, Handshake handshake, RecoveredSession recovered) {
    std::shared_ptr<Socket> socket(new Socket(ns, shared_from_this(), recovered.state.sid, recovered.state.pid,
                                              std::move(handshake)));
    socket->recovered_ = true;
    socket->data_ = std::move(recovered.state.data);
    Finish(std::move(socket), std::move(recovered.state.rooms), std::move(recovered.missed));
  }

  void RunMiddleware(std::shared_ptr<Socket> socket, size_t index) {
    Namespace& ns = socket->nsp();
    std::vector<Middleware> chain;
    {
      std::lock_guard lock(ns.mu_);
      if (index < ns.middleware_.size()) chain.push_back(ns.middleware_[index]);
    }
    if (chain.empty()) return Finish(std::move(socket), {}, {});
    auto called = std::make_shared<std::atomic<bool>>(false);
    Next next = [weak = weak_from_this(), socket, index, called](std::optional<ConnectError> error) {
      if (called->exchange(true)) return;
      auto self = weak.lock();
      if (!self) return;
      net::dispatch(self->session_->strand(), [self, socket, index, error = std::move(error)]() mutable {
        if (self->closed_) return;
        if (error) {
          self->connecting_.erase(socket->nsp().name());
          self->server_.counters_.refused_middleware.fetch_add(1, std::memory_order_relaxed);
          self->Send(sio::MakeConnectError(socket->nsp().name(), error->message, std::move(error->data)));
          return;
        }
        self->RunMiddleware(std::move(socket), index + 1);
      });
    };
    Socket& s = *socket;
    chain.front()(s, s.handshake_.auth, std::move(next));
  }

  void Finish(std::shared_ptr<Socket> socket, std::vector<std::string> rooms, std::vector<StoredPacket> missed) {
    Namespace& ns = socket->nsp();
    connecting_.erase(ns.name());
    if (closed_) return;
    sockets_[ns.name()] = socket;
    socket->connected_ = true;
    ns.AddSocket(socket, rooms);
    server_.counters_.sockets.fetch_add(1, std::memory_order_relaxed);
    server_.counters_.connects.fetch_add(1, std::memory_order_relaxed);
    if (socket->recovered_) server_.counters_.recovered.fetch_add(1, std::memory_order_relaxed);
    if (connect_timer_) {
      connect_timer_->cancel();
      connect_timer_.reset();
    }
    sio::Packet connect = sio::MakeConnect(ns.name(), socket->id());
    if (!socket->pid().empty()) connect.data->as_object()["pid"] = socket->pid();
    Send(connect);
    for (auto& stored : missed) {
      stored.args.push_back(boost::json::string(stored.offset));
      auto event = sio::MakeEvent(ns.name(), stored.event, std::move(stored.args), std::move(stored.buffers));
      if (event.ok()) Send(*event);
    }
    ConnectionHandler handler;
    {
      std::lock_guard lock(ns.mu_);
      handler = ns.on_connection_;
    }
    if (handler) handler(socket);
  }

  Server& server_;
  std::shared_ptr<EngineSession> session_;
  sio::Reassembler reassembler_;
  std::unordered_map<std::string, std::shared_ptr<Socket>> sockets_;  // by namespace
  std::unordered_set<std::string> connecting_;
  std::unique_ptr<net::steady_timer> connect_timer_;
  bool closed_ = false;
};

// ---- Socket ---------------------------------------------------------------------------------------

struct Socket::PendingAck {
  AckCallback callback;
  std::unique_ptr<net::steady_timer> timer;
};

Socket::Socket(Namespace& nsp, std::shared_ptr<ClientConnection> client, std::string id, std::string pid,
               Handshake handshake)
    : nsp_(&nsp),
      client_(client),
      connection_id_(client->session()->id()),
      strand_(client->session()->strand()),
      id_(std::move(id)),
      pid_(std::move(pid)),
      handshake_(std::move(handshake)) {}

Socket::~Socket() = default;

void Socket::On(std::string event, EventHandler handler) { handlers_[std::move(event)] = std::move(handler); }
void Socket::OnAny(AnyHandler handler) { any_handlers_.push_back(std::move(handler)); }
void Socket::OnUnhandled(EventHandler handler) { unhandled_handler_ = std::move(handler); }
void Socket::OnDisconnect(DisconnectHandler handler) { disconnect_handlers_.push_back(std::move(handler)); }

void Socket::SendEncoded(std::vector<eio::Packet> packets) {
  if (!connected_) return;
  auto client = client_.lock();
  if (!client) return;
  nsp_->server_.counters_.events_out.fetch_add(1, std::memory_order_relaxed);
  client->session()->Send(std::move(packets));
}

void Socket::SendPacket(const sio::Packet& packet) {
  auto encoded = sio::EncodeToEngineIo(packet);
  if (!encoded.ok()) {
    sb::log::Warn("socket.io packet not sent", {{"error", std::string(encoded.status().message())}});
    return;
  }
  SendEncoded(std::move(*encoded));
}

void Socket::Emit(std::string_view event, boost::json::array args, std::vector<std::string> buffers) {
  if (!connected_) return;
  auto& store = nsp_->server_.options_.recovery_store;
  if (store) {
    StoredPacket stored;
    stored.nsp = nsp_->name();
    stored.event = std::string(event);
    stored.args = args;
    stored.buffers = buffers;
    stored.rooms = {id_};
    if (auto offset = store->Append(std::move(stored))) args.push_back(boost::json::string(*offset));
  }
  auto packet = sio::MakeEvent(nsp_->name(), event, std::move(args), std::move(buffers));
  if (!packet.ok()) {
    sb::log::Warn("socket.io emit refused", {{"event", event}, {"error", std::string(packet.status().message())}});
    return;
  }
  SendPacket(*packet);
}

void Socket::EmitWithAck(std::string_view event, boost::json::array args, std::vector<std::string> buffers,
                         std::chrono::milliseconds timeout, AckCallback callback) {
  auto client = client_.lock();
  if (!client) {
    // Posted, not run inline: the caller may hold locks or be on another thread, and the contract
    // is that the callback runs on the strand.
    net::post(strand_, [callback = std::move(callback)]() mutable {
      Message empty;
      callback(absl::UnavailableError("socket is disconnected"), empty);
    });
    return;
  }
  net::dispatch(client->session()->strand(), [self = shared_from_this(), client, event = std::string(event),
                                               args = std::move(args), buffers = std::move(buffers), timeout,
                                               callback = std::move(callback)]() mutable {
    // dispatch (not post) keeps the emit ordered with Emit() calls made on the strand; failures
    // are posted so the callback never runs inside the caller's EmitWithAck.
    auto fail = [&](absl::Status status) {
      net::post(self->strand_, [status = std::move(status), callback = std::move(callback)]() mutable {
        Message empty;
        callback(status, empty);
      });
    };
    if (!self->connected_) return fail(absl::UnavailableError("socket is disconnected"));
    const uint64_t id = self->next_ack_id_++;
    auto packet = sio::MakeEvent(self->nsp_->name(), event, std::move(args), std::move(buffers), id);
    if (!packet.ok()) return fail(packet.status());
    auto pending = std::make_shared<PendingAck>();
    pending->callback = std::move(callback);
    pending->timer = std::make_unique<net::steady_timer>(client->session()->strand());
    pending->timer->expires_after(timeout);
    pending->timer->async_wait([weak = self->weak_from_this(), id](boost::system::error_code ec) {
      auto socket = weak.lock();
      if (ec || !socket) return;
      auto it = socket->pending_acks_.find(id);
      if (it == socket->pending_acks_.end()) return;
      auto cb = std::move(it->second->callback);
      socket->pending_acks_.erase(it);
      socket->nsp_->server_.counters_.acks_timed_out.fetch_add(1, std::memory_order_relaxed);
      Message empty;
      cb(absl::DeadlineExceededError("operation has timed out"), empty);
    });
    self->pending_acks_[id] = std::move(pending);
    self->SendPacket(*packet);
  });
}

void Socket::OnEvent(sio::Packet packet) {
  const std::optional<uint64_t> ack_id = packet.id;
  Message msg = ToMessage(packet);
  Ack ack;
  if (ack_id) {
    ack = Ack([weak = weak_from_this(), id = *ack_id](boost::json::array args, std::vector<std::string> buffers) {
      auto self = weak.lock();
      if (!self) return;
      auto reply = sio::MakeAck(self->nsp_->name(), id, std::move(args), std::move(buffers));
      if (!reply.ok()) {
        sb::log::Warn("socket.io ack refused", {{"error", std::string(reply.status().message())}});
        return;
      }
      self->SendPacket(*reply);
    });
  }
  for (const auto& any : any_handlers_) {
    if (!connected_) return;
    any(*this, msg);
  }
  auto it = handlers_.find(msg.event);
  if (!connected_) return;
  if (it != handlers_.end()) {
    EventHandler handler = it->second;  // the handler may replace itself
    handler(*this, msg, ack);
  } else if (unhandled_handler_) {
    EventHandler handler = unhandled_handler_;
    handler(*this, msg, ack);
  }
}

void Socket::OnAck(sio::Packet packet) {
  if (!packet.id) return;
  auto it = pending_acks_.find(*packet.id);
  if (it == pending_acks_.end()) return;  // late or unknown ack: ignored like the reference server
  auto pending = std::move(it->second);
  pending_acks_.erase(it);
  pending->timer->cancel();
  Message msg = ToMessage(packet);
  pending->callback(absl::OkStatus(), msg);
}

void Socket::OnClose(std::string_view why, bool notify_client) {
  if (!connected_) return;
  auto keep_alive = shared_from_this();  // the maps below may hold the last references
  if (notify_client) SendPacket(sio::MakeDisconnect(nsp_->name()));
  connected_ = false;
  auto& server = nsp_->server_;
  server.counters_.sockets.fetch_sub(1, std::memory_order_relaxed);
  if (server.options_.recovery_store && IsRecoverable(why) && !pid_.empty()) {
    SessionState state;
    state.pid = pid_;
    state.sid = id_;
    state.nsp = nsp_->name();
    state.rooms = Rooms();
    state.data = data_;
    server.options_.recovery_store->Save(std::move(state));
  }
  nsp_->RemoveSocket(*this);
  if (auto client = client_.lock()) client->ForgetSocket(nsp_->name());
  auto pending = std::move(pending_acks_);
  pending_acks_.clear();
  for (auto& [id, p] : pending) {
    p->timer->cancel();
    Message empty;
    p->callback(absl::UnavailableError("socket has been disconnected"), empty);
  }
  auto handlers = std::move(disconnect_handlers_);
  disconnect_handlers_.clear();
  for (auto& h : handlers) h(*this, why);
  // Handlers often capture the socket: drop them to break the cycle.
  handlers_.clear();
  any_handlers_.clear();
  unhandled_handler_ = nullptr;
}

void Socket::Join(const std::string& room) {
  std::lock_guard lock(nsp_->mu_);
  if (!nsp_->sockets_.count(id_)) return;
  nsp_->JoinLocked(*this, room);
}

void Socket::Leave(const std::string& room) {
  std::lock_guard lock(nsp_->mu_);
  auto it = nsp_->rooms_.find(room);
  if (it != nsp_->rooms_.end()) {
    it->second.erase(id_);
    if (it->second.empty()) nsp_->rooms_.erase(it);
  }
  auto sr = nsp_->socket_rooms_.find(id_);
  if (sr != nsp_->socket_rooms_.end()) sr->second.erase(room);
}

std::vector<std::string> Socket::Rooms() const {
  std::lock_guard lock(nsp_->mu_);
  auto it = nsp_->socket_rooms_.find(id_);
  if (it == nsp_->socket_rooms_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

BroadcastOperator Socket::To(std::string room) {
  BroadcastOperator op = nsp_->To(std::move(room));
  op.Except(id_);
  return op;
}

void Socket::Disconnect(bool close_connection) {
  auto client = client_.lock();
  if (!client) return;
  net::dispatch(client->session()->strand(), [self = shared_from_this(), client, close_connection] {
    if (close_connection) {
      client->DisconnectAll();
    } else {
      self->OnClose(reason::kServerNamespaceDisconnect, true);
    }
  });
}

// ---- Namespace & broadcast ------------------------------------------------------------------------

void Namespace::Use(Middleware middleware) {
  std::lock_guard lock(mu_);
  middleware_.push_back(std::move(middleware));
}

void Namespace::OnConnection(ConnectionHandler handler) {
  std::lock_guard lock(mu_);
  on_connection_ = std::move(handler);
}

BroadcastOperator Namespace::To(std::string room) {
  BroadcastOperator op(*this);
  op.To(std::move(room));
  return op;
}

BroadcastOperator Namespace::Except(std::string room) {
  BroadcastOperator op(*this);
  op.Except(std::move(room));
  return op;
}

std::optional<std::string> Namespace::Emit(std::string_view event, boost::json::array args,
                                           std::vector<std::string> buffers) {
  std::optional<std::string> offset;
  Broadcast({}, {}, std::nullopt, event, std::move(args), std::move(buffers), &offset);
  return offset;
}

size_t Namespace::socket_count() const {
  std::lock_guard lock(mu_);
  return sockets_.size();
}

size_t Namespace::room_count() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [room, members] : rooms_) {
    if (!sockets_.count(room)) ++n;
  }
  return n;
}

std::shared_ptr<Socket> Namespace::FindSocket(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = sockets_.find(std::string(id));
  return it == sockets_.end() ? nullptr : it->second;
}

void Namespace::JoinLocked(Socket& socket, const std::string& room) {
  rooms_[room].insert(socket.id_);
  socket_rooms_[socket.id_].insert(room);
}

void Namespace::AddSocket(const std::shared_ptr<Socket>& socket, const std::vector<std::string>& rooms) {
  std::lock_guard lock(mu_);
  sockets_[socket->id_] = socket;
  JoinLocked(*socket, socket->id_);
  for (const auto& room : rooms) JoinLocked(*socket, room);
}

void Namespace::RemoveSocket(Socket& socket) {
  std::lock_guard lock(mu_);
  auto sr = socket_rooms_.find(socket.id_);
  if (sr != socket_rooms_.end()) {
    for (const auto& room : sr->second) {
      auto it = rooms_.find(room);
      if (it == rooms_.end()) continue;
      it->second.erase(socket.id_);
      if (it->second.empty()) rooms_.erase(it);
    }
    socket_rooms_.erase(sr);
  }
  auto it = sockets_.find(socket.id_);
  if (it != sockets_.end() && it->second.get() == &socket) sockets_.erase(it);
}

std::vector<std::shared_ptr<Socket>> Namespace::Select(const std::vector<std::string>& rooms,
                                                       const std::vector<std::string>& except) const {
  std::lock_guard lock(mu_);
  std::unordered_set<std::string> excluded;
  for (const auto& room : except) {
    auto it = rooms_.find(room);
    if (it != rooms_.end()) excluded.insert(it->second.begin(), it->second.end());
  }
  std::vector<std::shared_ptr<Socket>> out;
  auto add = [&](const std::string& id) {
    if (!excluded.empty() && excluded.count(id)) return;
    auto s = sockets_.find(id);
    if (s != sockets_.end()) out.push_back(s->second);
  };
  if (rooms.empty()) {
    for (const auto& [id, s] : sockets_) add(id);
  } else if (rooms.size() == 1) {
    // One room (the usual broadcast): its members are distinct, no de-duplication set needed.
    auto it = rooms_.find(rooms.front());
    if (it != rooms_.end()) {
      out.reserve(it->second.size());
      for (const auto& id : it->second) add(id);
    }
  } else {
    std::unordered_set<std::string> seen;
    for (const auto& room : rooms) {
      auto it = rooms_.find(room);
      if (it == rooms_.end()) continue;
      for (const auto& id : it->second) {
        if (seen.insert(id).second) add(id);
      }
    }
  }
  return out;
}

void Namespace::Broadcast(const std::vector<std::string>& rooms, const std::vector<std::string>& except,
                          std::optional<std::string> offset, std::string_view event, boost::json::array args,
                          std::vector<std::string> buffers, std::optional<std::string>* assigned_offset) {
  auto& store = server_.options_.recovery_store;
  if (store) {
    StoredPacket stored;
    stored.offset = offset.value_or("");
    stored.nsp = name_;
    stored.event = std::string(event);
    stored.args = args;
    stored.buffers = buffers;
    stored.rooms = rooms;
    stored.except = except;
    auto appended = store->Append(std::move(stored));
    if (!offset) offset = appended;
  }
  if (offset) args.push_back(boost::json::string(*offset));
  if (assigned_offset) *assigned_offset = offset;
  auto packet = sio::MakeEvent(name_, event, std::move(args), std::move(buffers));
  if (!packet.ok()) {
    sb::log::Warn("socket.io broadcast refused", {{"event", event}, {"error", std::string(packet.status().message())}});
    return;
  }
  auto encoded = sio::EncodeToEngineIo(std::move(*packet));
  if (!encoded.ok()) return;
  // Encoded once into immutable frames that every recipient's connection queues as is.
  auto shared = MakeSharedPackets(std::move(*encoded));
  for (const auto& socket : Select(rooms, except)) {
    if (!socket->connected_) continue;
    auto client = socket->client_.lock();
    if (!client) continue;
    server_.counters_.events_out.fetch_add(1, std::memory_order_relaxed);
    client->session()->Send(shared);
  }
}

BroadcastOperator& BroadcastOperator::To(std::string room) {
  rooms_.push_back(std::move(room));
  return *this;
}

BroadcastOperator& BroadcastOperator::Except(std::string room) {
  except_.push_back(std::move(room));
  return *this;
}

std::optional<std::string> BroadcastOperator::Emit(std::string_view event, boost::json::array args,
                                                   std::vector<std::string> buffers) {
  std::optional<std::string> offset;
  nsp_->Broadcast(rooms_, except_, std::nullopt, event, std::move(args), std::move(buffers), &offset);
  return offset;
}

void BroadcastOperator::EmitWithOffset(std::string offset, std::string_view event, boost::json::array args,
                                       std::vector<std::string> buffers) {
  nsp_->Broadcast(rooms_, except_, std::move(offset), event, std::move(args), std::move(buffers), nullptr);
}

std::vector<std::string> BroadcastOperator::SocketIds() const {
  std::vector<std::string> ids;
  for (const auto& s : nsp_->Select(rooms_, except_)) ids.push_back(s->id());
  return ids;
}

void BroadcastOperator::DisconnectSockets(bool close_connection) {
  for (const auto& s : nsp_->Select(rooms_, except_)) s->Disconnect(close_connection);
}

// ---- Server ---------------------------------------------------------------------------------------

Server::Server(EngineServer& engine, ServerOptions options) : engine_(engine), options_(std::move(options)) {
  Of("/");
  engine_.SetConnectionHandler([this](std::shared_ptr<EngineSession> session) {
    auto client = std::make_shared<ClientConnection>(*this, session);
    session->on_message = [client](eio::Packet packet) { client->OnMessage(std::move(packet)); };
    session->on_close = [client](const std::string& why) { client->OnClose(why); };
    client->Start();
  });
}

Server::~Server() = default;

Namespace& Server::Of(const std::string& name) {
  std::string key = name.empty() || name.front() != '/' ? "/" + name : name;
  std::lock_guard lock(mu_);
  auto& slot = namespaces_[key];
  if (!slot) slot.reset(new Namespace(*this, key));
  return *slot;
}

void Server::SetDynamicNamespaceHook(std::function<bool(const std::string&, const boost::json::object&)> hook) {
  std::lock_guard lock(mu_);
  dynamic_hook_ = std::move(hook);
}

Namespace* Server::FindNamespace(const std::string& name, const boost::json::object& auth) {
  std::function<bool(const std::string&, const boost::json::object&)> hook;
  {
    std::lock_guard lock(mu_);
    auto it = namespaces_.find(name);
    if (it != namespaces_.end()) return it->second.get();
    hook = dynamic_hook_;
  }
  if (hook && hook(name, auth)) return &Of(name);
  return nullptr;
}

std::vector<std::pair<std::string, size_t>> Server::SocketsPerNamespace() const {
  std::vector<Namespace*> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, ns] : namespaces_) all.push_back(ns.get());
  }
  std::vector<std::pair<std::string, size_t>> out;
  for (auto* ns : all) out.emplace_back(ns->name(), ns->socket_count());
  return out;
}

void Server::Close() { engine_.CloseAll(); }

}  // namespace sb::socketio::server
