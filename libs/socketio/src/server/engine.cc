#include "sb/socketio/server/engine.h"

#include <deque>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "sb/common/log.h"
#include "sb/socketio/server/heartbeat.h"
#include "sb/socketio/server/outbox.h"

namespace sb::socketio::server {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// ---- WebSocket transport --------------------------------------------------------------------------

// One WebSocket connection of a session, used only on the session's strand (its socket is created
// on that strand, so Beast's internal timers and completions run there too). One write in flight,
// a bounded queue behind it.
class WsTransport : public std::enable_shared_from_this<WsTransport> {
 public:
  WsTransport(std::shared_ptr<EngineSession> session, tcp::socket socket, bool probe)
      : session_(std::move(session)), ws_(std::move(socket)), probe_(probe) {}

  // Completes the HTTP upgrade, then calls `on_open` (on the strand) or closes the session/probe.
  void Accept(Request request, std::function<void(bool ok)> on_open);
  // Queues frames; false when the queue bound would be exceeded (nothing queued then).
  bool Send(const std::vector<eio::Packet>& packets);
  // Sends a close frame after the queued frames. Idempotent.
  void Close();
  void Detach() { session_.reset(); }
  // Drops the probe if the upgrade has not completed within `timeout` (polling carries on).
  void StartProbeTimer(std::chrono::milliseconds timeout);

 private:
  void DoRead();
  void OnRead(beast::error_code ec);
  void DoWrite();
  void OnReadError(beast::error_code ec);

  std::shared_ptr<EngineSession> session_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer read_buffer_;
  std::deque<eio::WebSocketFrame> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool probe_;
  std::shared_ptr<Request> upgrade_request_;
  std::unique_ptr<net::steady_timer> probe_timer_;  // only while probing
};

// ---- Session state -------------------------------------------------------------------------------

class EngineSession::Impl {
 public:
  Impl(net::any_io_executor strand, const EngineOptions& options)
      : heartbeat(options.ping_interval, options.ping_timeout),
        timer(strand),
        outbox(options.max_buffered_bytes) {}

  Heartbeat heartbeat;
  net::steady_timer timer;
  Outbox outbox;                       // polling transport only
  std::optional<Responder> pending_get;
  std::shared_ptr<WsTransport> ws;     // active WebSocket transport
  std::shared_ptr<WsTransport> probe;  // WebSocket being probed for an upgrade
  bool upgrading = false;
  bool started = false;
};

EngineSession::EngineSession(EngineServer& server, Strand strand, std::string id,
                             eio::Transport transport, RequestInfo request)
    : server_(server),
      strand_(std::move(strand)),
      id_(std::move(id)),
      request_(std::move(request)),
      transport_(transport),
      impl_(std::make_unique<Impl>(strand_, server.options_)) {}

EngineSession::~EngineSession() = default;

void EngineSession::Send(std::vector<eio::Packet> packets) {
  net::dispatch(strand_, [self = shared_from_this(), packets = std::move(packets)]() mutable {
    self->SendOnStrand(std::move(packets));
  });
}

void EngineSession::Close(std::string reason) {
  net::dispatch(strand_, [self = shared_from_this(), reason = std::move(reason)] {
    self->CloseOnStrand(reason, true);
  });
}

void EngineSession::Start() {
  const auto& opts = server_.options_;
  eio::OpenInfo open;
  open.sid = id_;
  if (transport() == eio::Transport::kPolling && opts.allow_websocket && opts.allow_upgrades) {
    open.upgrades = {"websocket"};
  }
  open.ping_interval_ms = opts.ping_interval.count();
  open.ping_timeout_ms = opts.ping_timeout.count();
  open.max_payload = static_cast<int64_t>(opts.max_payload);
  impl_->started = true;
  SendOnStrand({eio::MakeOpenPacket(open)});
  ArmHeartbeat(impl_->heartbeat.Start(std::chrono::steady_clock::now()));
  if (server_.on_connection_) server_.on_connection_(shared_from_this());
}

void EngineSession::ArmHeartbeat(std::chrono::steady_clock::time_point deadline) {
  impl_->timer.expires_at(deadline);
  impl_->timer.async_wait([weak = weak_from_this()](beast::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_) return;
    const auto now = std::chrono::steady_clock::now();
    // A handler queued before a re-arm would act on a stale deadline.
    if (self->impl_->timer.expiry() > now) return;
    auto step = self->impl_->heartbeat.OnDeadline(now);
    if (step.action == Heartbeat::Action::kTimedOut) {
      self->CloseOnStrand("ping timeout", false);
      return;
    }
    self->SendOnStrand({eio::Packet::Text(eio::PacketType::kPing)});
    self->ArmHeartbeat(step.next_deadline);
  });
}

void EngineSession::SendOnStrand(std::vector<eio::Packet> packets) {
  if (closed_ || packets.empty()) return;
  server_.counters_.packets_out.fetch_add(packets.size(), std::memory_order_relaxed);
  if (impl_->ws) {
    if (!impl_->ws->Send(packets)) {
      server_.counters_.slow_consumers.fetch_add(1, std::memory_order_relaxed);
      sb::log::Warn("socket.io client too slow, disconnecting", {{"sid", id_}});
      CloseOnStrand("transport error", false);
    }
    return;
  }
  for (auto& packet : packets) {
    if (!impl_->outbox.Push(std::move(packet))) {
      server_.counters_.slow_consumers.fetch_add(1, std::memory_order_relaxed);
      sb::log::Warn("socket.io client too slow, disconnecting", {{"sid", id_}});
      CloseOnStrand("transport error", false);
      return;
    }
  }
  FlushPolling();
}

void EngineSession::FlushPolling() {
  if (!impl_->pending_get || impl_->outbox.empty()) return;
  Responder respond = std::move(*impl_->pending_get);
  impl_->pending_get.reset();
  server_.Reply(request_, respond,
                MakeResponse(http::status::ok, "text/plain; charset=UTF-8", impl_->outbox.TakePollingPayload()));
}

void EngineSession::OnPollGet(Responder respond) {
  if (closed_) {
    server_.ReplyError(request_, respond, eio::ErrorCode::kUnknownSid);
    return;
  }
  if (impl_->pending_get) {
    // Reference behaviour: overlapping polls are a client bug; refuse and close the session.
    server_.ReplyError(request_, respond, eio::ErrorCode::kBadRequest);
    CloseOnStrand("transport error", false);
    return;
  }
  impl_->pending_get = std::move(respond);
  if (impl_->upgrading && impl_->outbox.empty()) {
    // The client is pausing polling to upgrade: release the poll at once.
    impl_->outbox.Push(eio::Packet::Text(eio::PacketType::kNoop));
  }
  FlushPolling();
}

void EngineSession::OnPollPost(std::string body, Responder respond) {
  if (closed_) {
    server_.ReplyError(request_, respond, eio::ErrorCode::kUnknownSid);
    return;
  }
  auto packets = eio::DecodePayload(body, server_.options_.max_payload);
  if (!packets.ok()) {
    server_.ReplyError(request_, respond, eio::ErrorCode::kBadRequest);
    CloseOnStrand("parse error", false);
    return;
  }
  server_.Reply(request_, respond, MakeResponse(http::status::ok, "text/html", "ok"));
  for (auto& packet : *packets) {
    if (closed_) break;
    OnPacket(std::move(packet));
  }
}

void EngineSession::OnPacket(eio::Packet packet) {
  if (closed_) return;
  server_.counters_.packets_in.fetch_add(1, std::memory_order_relaxed);
  switch (packet.type) {
    case eio::PacketType::kPong:
      ArmHeartbeat(impl_->heartbeat.OnPong(std::chrono::steady_clock::now()));
      break;
    case eio::PacketType::kMessage:
      if (on_message) on_message(std::move(packet));
      break;
    case eio::PacketType::kClose:
      CloseOnStrand("transport close", false);
      break;
    default:  // ping (v3 clients), noop, stray upgrade/open: ignored like the reference server
      break;
  }
}

void EngineSession::CloseOnStrand(const std::string& reason, bool tell_client) {
  if (closed_.exchange(true)) return;
  impl_->timer.cancel();
  if (impl_->pending_get) {
    Responder respond = std::move(*impl_->pending_get);
    impl_->pending_get.reset();
    // Deliver what is queued (e.g. DISCONNECT packets of a server-side disconnect), then CLOSE.
    std::string payload = impl_->outbox.TakePollingPayload();
    if (!payload.empty()) payload.push_back(eio::kRecordSeparator);
    payload += eio::EncodePayload({eio::Packet::Text(eio::PacketType::kClose)});
    server_.Reply(request_, respond, MakeResponse(http::status::ok, "text/plain; charset=UTF-8", std::move(payload)));
  }
  impl_->outbox.Clear();
  if (impl_->ws) {
    impl_->ws->Close();
    impl_->ws->Detach();
    impl_->ws.reset();
  }
  if (impl_->probe) {
    impl_->probe->Close();
    impl_->probe->Detach();
    impl_->probe.reset();
  }
  server_.Remove(*this);
  auto on_close_fn = std::move(on_close);
  on_close = nullptr;
  on_message = nullptr;
  if (on_close_fn && impl_->started) on_close_fn(reason);
}

// ---- WsTransport ---------------------------------------------------------------------------------

void WsTransport::Accept(Request request, std::function<void(bool ok)> on_open) {
  ws_.set_option(websocket::stream_base::timeout{
      std::chrono::seconds(10),              // handshake (and close) timeout
      websocket::stream_base::none(),        // idleness is the heartbeat's job
      false});
  ws_.auto_fragment(false);
  ws_.read_message_max(session_ ? session_->server_.options_.max_payload : eio::kDefaultMaxPayload);
  upgrade_request_ = std::make_shared<Request>(std::move(request));
  ws_.async_accept(*upgrade_request_, [self = shared_from_this(), on_open = std::move(on_open)](beast::error_code ec) {
    self->upgrade_request_.reset();
    if (ec || !self->session_) {
      on_open(false);
      return;
    }
    on_open(true);
    self->DoRead();
  });
}

void WsTransport::StartProbeTimer(std::chrono::milliseconds timeout) {
  probe_timer_ = std::make_unique<net::steady_timer>(ws_.get_executor());
  probe_timer_->expires_after(timeout);
  probe_timer_->async_wait([weak = weak_from_this()](beast::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->probe_) return;
    if (auto session = self->session_) {
      if (session->impl_->probe == self) {
        session->impl_->probe.reset();
        session->impl_->upgrading = false;
      }
    }
    self->Detach();
    self->Close();
  });
}

void WsTransport::DoRead() {
  ws_.async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void WsTransport::OnRead(beast::error_code ec) {
  if (ec) return OnReadError(ec);
  auto session = session_;
  if (!session) return;
  std::string payload = beast::buffers_to_string(read_buffer_.data());
  read_buffer_.consume(read_buffer_.size());
  // Idle connections keep no large buffer around.
  if (read_buffer_.capacity() > 4096) read_buffer_.shrink_to_fit();
  const bool binary = !ws_.got_text();
  auto packet = eio::DecodeWebSocketFrame(payload, binary, session->server_.options_.max_payload);
  if (!packet.ok()) {
    if (probe_) {
      Close();
      return;
    }
    session->CloseOnStrand("parse error", false);
    return;
  }
  if (probe_) {
    auto& impl = *session->impl_;
    if (packet->type == eio::PacketType::kPing && packet->data == "probe" && !packet->binary) {
      Send({eio::Packet::Text(eio::PacketType::kPong, "probe")});
      impl.upgrading = true;
      if (impl.pending_get && impl.outbox.empty()) impl.outbox.Push(eio::Packet::Text(eio::PacketType::kNoop));
      session->FlushPolling();
    } else if (packet->type == eio::PacketType::kUpgrade && impl.upgrading) {
      // Switch: answer a still-pending poll, move the queue to the WebSocket.
      if (impl.pending_get) {
        if (impl.outbox.empty()) impl.outbox.Push(eio::Packet::Text(eio::PacketType::kNoop));
        session->FlushPolling();
      }
      probe_ = false;
      if (probe_timer_) probe_timer_->cancel();
      impl.ws = std::move(impl.probe);
      impl.upgrading = false;
      session->transport_ = eio::Transport::kWebSocket;
      session->server_.counters_.upgrades.fetch_add(1, std::memory_order_relaxed);
      std::vector<eio::Packet> queued;
      while (!impl.outbox.empty()) queued.push_back(impl.outbox.Pop());
      impl.outbox.Clear();
      if (!queued.empty() && !Send(queued)) {
        session->CloseOnStrand("transport error", false);
        return;
      }
    } else {
      // Anything else during the probe fails the upgrade; polling carries on.
      impl.upgrading = false;
      impl.probe.reset();
      Close();
      return;
    }
  } else {
    session->OnPacket(std::move(*packet));
  }
  if (session_) DoRead();
}

void WsTransport::OnReadError(beast::error_code ec) {
  auto session = session_;
  session_.reset();
  if (!session) return;
  if (probe_) {
    if (session->impl_->probe.get() == this) {
      session->impl_->probe.reset();
      session->impl_->upgrading = false;
    }
    return;
  }
  if (session->impl_->ws.get() != this) return;
  const bool clean = ec == websocket::error::closed || ec == net::error::eof ||
                     ec == net::error::connection_reset;
  session->CloseOnStrand(clean ? "transport close" : "transport error", false);
}

bool WsTransport::Send(const std::vector<eio::Packet>& packets) {
  if (closing_) return true;
  size_t max = session_ ? session_->server_.options_.max_buffered_bytes : eio::kDefaultMaxPayload;
  size_t added = 0;
  for (const auto& p : packets) added += p.data.size() + 16;
  if (!queue_.empty() && queued_bytes_ + added > max) return false;
  for (const auto& p : packets) {
    queue_.push_back(eio::EncodeWebSocketFrame(p));
  }
  queued_bytes_ += added;
  if (!writing_) DoWrite();
  return true;
}

void WsTransport::DoWrite() {
  if (queue_.empty()) {
    writing_ = false;
    if (closing_ && !close_sent_) {
      close_sent_ = true;
      ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
    }
    return;
  }
  writing_ = true;
  ws_.text(!queue_.front().binary);
  ws_.async_write(net::buffer(queue_.front().payload), [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) {
      self->queue_.clear();
      self->writing_ = false;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
      return;
    }
    const size_t cost = self->queue_.front().payload.size() + 16;
    self->queued_bytes_ = self->queued_bytes_ >= cost ? self->queued_bytes_ - cost : 0;
    self->queue_.pop_front();
    self->DoWrite();
  });
}

void WsTransport::Close() {
  if (closing_) return;
  closing_ = true;
  if (!ws_.is_open()) {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    return;
  }
  if (!writing_) DoWrite();
}

// ---- EngineServer --------------------------------------------------------------------------------

namespace {

// Moves an accepted socket onto `executor` (the session's strand), so that every handler of the
// WebSocket, including Beast's internal timer, runs there.
tcp::socket Rehome(tcp::socket old, const net::any_io_executor& executor) {
  beast::error_code ec;
  tcp::socket fresh(executor);
  auto endpoint = old.local_endpoint(ec);
  if (ec) return fresh;
  auto handle = old.release(ec);
  if (ec) return fresh;
  fresh.assign(endpoint.protocol(), handle, ec);
  return fresh;
}

}  // namespace

EngineServer::EngineServer(net::io_context& io, EngineOptions options) : io_(io), options_(std::move(options)) {
  if (options_.path.empty() || options_.path.front() != '/') options_.path.insert(0, "/");
}

EngineServer::~EngineServer() = default;

void EngineServer::SetConnectionHandler(std::function<void(std::shared_ptr<EngineSession>)> handler) {
  on_connection_ = std::move(handler);
}

void EngineServer::ApplyCors(const RequestInfo& info, Response& res) const {
  if (options_.cors_origins.empty()) return;
  auto origin = info.Header("origin");
  if (!origin) return;
  bool allowed = false;
  for (const auto& o : options_.cors_origins) {
    if (o == "*" || o == *origin) allowed = true;
  }
  if (!allowed) return;
  res.set(http::field::access_control_allow_origin, *origin);
  if (options_.cors_credentials) res.set(http::field::access_control_allow_credentials, "true");
  res.set(http::field::vary, "Origin");
}

void EngineServer::Reply(const RequestInfo& info, const Responder& respond, Response res) const {
  ApplyCors(info, res);
  respond(std::move(res));
}

void EngineServer::ReplyError(const RequestInfo& info, const Responder& respond, eio::ErrorCode code) {
  counters_.handshake_errors.fetch_add(1, std::memory_order_relaxed);
  Reply(info, respond,
        MakeResponse(static_cast<http::status>(eio::ErrorHttpStatus(code)), "application/json", eio::ErrorBody(code)));
}

std::shared_ptr<EngineSession> EngineServer::NewSession(eio::Transport transport, RequestInfo info,
                                                        std::optional<EngineSession::Strand> strand) {
  EngineSession::Strand s = strand ? *strand : EngineSession::Strand(net::any_io_executor(io_.get_executor()));
  for (;;) {
    std::string id = GenerateId();
    std::shared_ptr<EngineSession> session(
        new EngineSession(*this, EngineSession::Strand(s), id, transport, std::move(info)));
    if (sessions_.Insert(id, session)) {
      counters_.sessions_opened.fetch_add(1, std::memory_order_relaxed);
      return session;
    }
    info = session->request_;  // id collision (never in practice): try again
  }
}

void EngineServer::Remove(EngineSession& session) {
  if (sessions_.Erase(session.id_, &session)) counters_.sessions_closed.fetch_add(1, std::memory_order_relaxed);
}

void EngineServer::HandleRequest(Request request, RequestInfo info, Responder respond,
                                 std::function<tcp::socket()> take_socket) {
  if (info.method == "OPTIONS") {
    Response res = MakeResponse(http::status::no_content, "text/plain", "");
    res.set(http::field::access_control_allow_methods, "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (auto h = info.Header("access-control-request-headers")) res.set(http::field::access_control_allow_headers, *h);
    return Reply(info, respond, std::move(res));
  }
  if (closing_) {
    return Reply(info, respond, MakeResponse(http::status::service_unavailable, "application/json",
                                             R"({"code":4,"message":"Server shutting down"})"));
  }
  eio::HandshakeRequest hr;
  hr.method = info.method;
  hr.eio = info.Query("EIO");
  hr.transport = info.Query("transport");
  hr.sid = info.Query("sid");
  hr.websocket_upgrade = websocket::is_upgrade(request);
  auto result = eio::ValidateHandshake(hr, [this](std::string_view sid) -> std::optional<eio::Transport> {
    auto s = sessions_.Find(sid);
    if (!s || s->closed()) return std::nullopt;
    return s->transport();
  });
  if (auto* rejected = std::get_if<eio::HandshakeRejected>(&result)) {
    return ReplyError(info, respond, rejected->code);
  }
  auto accepted = std::get<eio::HandshakeAccepted>(result);
  if ((accepted.transport == eio::Transport::kPolling && !options_.allow_polling) ||
      (accepted.transport == eio::Transport::kWebSocket && !options_.allow_websocket)) {
    return ReplyError(info, respond, eio::ErrorCode::kUnknownTransport);
  }

  if (!accepted.sid) {
    if (options_.allow_request) {
      if (auto refusal = options_.allow_request(info)) {
        counters_.refused_requests.fetch_add(1, std::memory_order_relaxed);
        boost::json::object body{{"code", static_cast<int>(eio::ErrorCode::kForbidden)},
                                 {"message", refusal->message}};
        return Reply(info, respond, MakeResponse(static_cast<http::status>(refusal->http_status),
                                                 "application/json", boost::json::serialize(body)));
      }
    }
    if (accepted.transport == eio::Transport::kPolling) {
      auto session = NewSession(eio::Transport::kPolling, std::move(info));
      net::dispatch(session->strand_, [session, respond = std::move(respond)]() mutable {
        session->Start();
        session->OnPollGet(std::move(respond));
      });
      return;
    }
    EngineSession::Strand strand(net::any_io_executor(io_.get_executor()));
    auto session = NewSession(eio::Transport::kWebSocket, std::move(info), strand);
    tcp::socket socket = Rehome(take_socket(), session->strand_);
    net::dispatch(session->strand_, [session, socket = std::move(socket), request = std::move(request)]() mutable {
      auto ws = std::make_shared<WsTransport>(session, std::move(socket), false);
      session->impl_->ws = ws;
      ws->Accept(std::move(request), [session](bool ok) {
        if (!ok) {
          session->impl_->ws.reset();
          session->CloseOnStrand("transport error", false);
          return;
        }
        session->Start();
      });
    });
    return;
  }

  auto session = sessions_.Find(*accepted.sid);
  if (!session) return ReplyError(info, respond, eio::ErrorCode::kUnknownSid);

  if (accepted.is_upgrade) {
    if (!options_.allow_upgrades) return ReplyError(info, respond, eio::ErrorCode::kBadRequest);
    tcp::socket socket = Rehome(take_socket(), session->strand_);
    net::dispatch(session->strand_, [session, socket = std::move(socket), request = std::move(request)]() mutable {
      auto& impl = *session->impl_;
      if (session->closed() || impl.probe || impl.ws) {
        // Already upgrading/upgraded: drop this connection (its socket closes with it).
        return;
      }
      auto ws = std::make_shared<WsTransport>(session, std::move(socket), true);
      impl.probe = ws;
      ws->Accept(std::move(request), [session, weak = std::weak_ptr<WsTransport>(ws)](bool ok) {
        auto probe = weak.lock();
        if (!ok) {
          if (probe && session->impl_->probe == probe) session->impl_->probe.reset();
          return;
        }
        if (probe) probe->StartProbeTimer(session->server_.options_.upgrade_timeout);
      });
    });
    return;
  }

  if (info.method == "GET") {
    net::dispatch(session->strand_, [session, respond = std::move(respond)]() mutable {
      session->OnPollGet(std::move(respond));
    });
  } else if (info.method == "POST") {
    if (request.body().size() > options_.max_payload) {
      counters_.payload_too_large.fetch_add(1, std::memory_order_relaxed);
      Reply(info, respond, MakeResponse(http::status::payload_too_large, "application/json",
                                        R"({"code":3,"message":"Payload too large"})"));
      session->Close("transport error");
      return;
    }
    net::dispatch(session->strand_, [session, body = std::move(request.body()), respond = std::move(respond)]() mutable {
      session->OnPollPost(std::move(body), std::move(respond));
    });
  } else {
    ReplyError(info, respond, eio::ErrorCode::kBadRequest);
  }
}

void EngineServer::CloseAll() {
  closing_ = true;
  for (auto& session : sessions_.Snapshot()) session->Close("server shutting down");
}

}  // namespace sb::socketio::server
