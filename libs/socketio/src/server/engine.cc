#include "sb/socketio/server/engine.h"

#include <array>
#include <span>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/ascii.h"
#include "sb/common/log.h"
#include "sb/socketio/server/heartbeat.h"
#include "sb/socketio/base64.h"
#include "sb/socketio/server/outbox.h"
#include "sb/socketio/server/ws_frame.h"

namespace sb::socketio::server {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ws = sb::socketio::server::ws;
using tcp = net::ip::tcp;

// ---- WebSocket transport --------------------------------------------------------------------------

// One WebSocket connection of a session, used only on the session's strand (its socket is created
// on that strand, so every completion runs there). RFC 6455 framing is done here on the raw socket
// (ws_frame.h) rather than with a WebSocket stream object: an idle connection then holds no read
// or write buffer, and queued frames go out in one gathered, non-blocking write per batch, which
// lets a broadcast queue one shared buffer to every recipient.
class WsTransport : public std::enable_shared_from_this<WsTransport> {
 public:
  WsTransport(std::shared_ptr<EngineSession> session, tcp::socket socket, bool probe)
      : session_(std::move(session)),
        socket_(std::move(socket)),
        reader_(session_ ? session_->server_.options_.max_payload : eio::kDefaultMaxPayload),
        probe_(probe) {}

  // Completes the HTTP upgrade, then calls `on_open` (on the strand) or closes the session/probe.
  void Accept(const Request& request, std::function<void(bool ok)> on_open);
  // Queues frames; false when the queue bound would be exceeded (nothing queued then).
  bool Send(const std::vector<eio::Packet>& packets);
  bool SendShared(const std::shared_ptr<const SharedPackets>& packets);
  // Sends a close frame after the queued frames. Idempotent.
  void Close() { StartClose(ws::kCloseNormal); }
  void Detach() { session_.reset(); }
  // Drops the probe if the upgrade has not completed within `timeout` (polling carries on).
  void StartProbeTimer(std::chrono::milliseconds timeout);

 private:
  // Frames waiting to be written: either this connection's own bytes or a shared broadcast.
  struct Chunk {
    std::shared_ptr<const SharedPackets> shared;
    std::string owned;
    std::string_view bytes() const { return shared ? std::string_view(shared->websocket_frames) : owned; }
  };

  bool Enqueue(Chunk chunk, bool bypass_bound = false);
  void Flush();
  void DoRead();
  void OnReadable(beast::error_code ec);
  bool HandleEvent(ws::Event& event);
  bool OnMessage(std::string payload, bool binary);
  void OnReadError(beast::error_code ec);
  // Tells the session this connection is over (closing it unless this is a probe); detaches.
  void DetachFromSession(beast::error_code ec);
  void StartClose(uint16_t code);
  void Teardown();

  std::shared_ptr<EngineSession> session_;
  tcp::socket socket_;
  ws::Reader reader_;
  std::vector<Chunk> queue_;
  size_t head_offset_ = 0;  // bytes of queue_.front() already written
  size_t queued_bytes_ = 0;
  bool waiting_write_ = false;
  bool closing_ = false;     // close frame queued: nothing more is sent
  bool torn_down_ = false;
  bool open_ = false;        // the 101 response has been written
  bool close_after_flush_ = false;  // shut the socket once the queue (ending in a close) is out
  bool probe_;
  std::unique_ptr<net::steady_timer> timer_;  // probe or close-handshake timeout, only while needed
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

void EngineSession::Send(std::shared_ptr<const SharedPackets> packets) {
  if (closed_.load(std::memory_order_relaxed)) return;
  net::dispatch(strand_, [self = shared_from_this(), packets = std::move(packets)] {
    self->SendSharedOnStrand(packets);
  });
}

std::shared_ptr<const SharedPackets> MakeSharedPackets(std::vector<eio::Packet> packets) {
  auto shared = std::make_shared<SharedPackets>();
  for (const auto& p : packets) {
    auto frame = eio::EncodeWebSocketFrame(p);
    char header[10];
    const size_t n = ws::EncodeHeader(frame.binary ? ws::Opcode::kBinary : ws::Opcode::kText, frame.payload.size(), header);
    shared->websocket_frames.append(header, n);
    shared->websocket_frames.append(frame.payload);
  }
  shared->packets = std::move(packets);
  return shared;
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

void EngineSession::OnSlowConsumer() {
  server_.counters_.slow_consumers.fetch_add(1, std::memory_order_relaxed);
  sb::log::Warn("socket.io client too slow, disconnecting", {{"sid", id_}});
  CloseOnStrand("transport error", false);
}

void EngineSession::SendOnStrand(std::vector<eio::Packet> packets) {
  if (closed_ || packets.empty()) return;
  server_.counters_.packets_out.fetch_add(packets.size(), std::memory_order_relaxed);
  if (impl_->ws) {
    if (!impl_->ws->Send(packets)) OnSlowConsumer();
    return;
  }
  for (auto& packet : packets) {
    if (!impl_->outbox.Push(std::move(packet))) return OnSlowConsumer();
  }
  FlushPolling();
}

void EngineSession::SendSharedOnStrand(const std::shared_ptr<const SharedPackets>& packets) {
  if (closed_ || packets->packets.empty()) return;
  server_.counters_.packets_out.fetch_add(packets->packets.size(), std::memory_order_relaxed);
  if (impl_->ws) {
    if (!impl_->ws->SendShared(packets)) OnSlowConsumer();
    return;
  }
  for (const auto& packet : packets->packets) {
    if (!impl_->outbox.Push(packet)) return OnSlowConsumer();
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
  if (lingering_) {
    // What was queued goes out first, the CLOSE on the poll after it: in one payload socket.io-client
    // would act on the CLOSE before the (tick-deferred) DISCONNECT and report "transport close".
    if (!impl_->outbox.empty()) {
      server_.Reply(request_, respond,
                    MakeResponse(http::status::ok, "text/plain; charset=UTF-8", impl_->outbox.TakePollingPayload()));
      return;
    }
    server_.Reply(request_, respond,
                  MakeResponse(http::status::ok, "text/plain; charset=UTF-8",
                               eio::EncodePayload({eio::Packet::Text(eio::PacketType::kClose)})));
    FinishLinger();
    return;
  }
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
  if (lingering_) {
    // The server closed first: what the client sends now is answered but not delivered; its own
    // CLOSE (sent once it has handled our DISCONNECT) ends the session without waiting.
    server_.Reply(request_, respond, MakeResponse(http::status::ok, "text/html", "ok"));
    auto packets = eio::DecodePayload(body, server_.options_.max_payload);
    if (packets.ok()) {
      for (const auto& packet : *packets) {
        if (packet.type == eio::PacketType::kClose) return FinishLinger();
      }
    }
    return;
  }
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
  // A polling client between two polls, or one that paused polling for an upgrade probe, would
  // otherwise lose the queued packets (e.g. a DISCONNECT with its reason) and see a transport
  // error instead of a server close.
  const bool linger =
      tell_client && impl_->started && !impl_->ws && (!impl_->pending_get || !impl_->outbox.empty());
  if (linger) {
    FlushPolling();  // a waiting poll takes the queued packets now, the next one the CLOSE
    StartLinger();
  } else if (impl_->pending_get) {
    Responder respond = std::move(*impl_->pending_get);
    impl_->pending_get.reset();
    // Deliver what is queued (e.g. DISCONNECT packets of a server-side disconnect), then CLOSE.
    std::string payload = impl_->outbox.TakePollingPayload();
    if (!payload.empty()) payload.push_back(eio::kRecordSeparator);
    payload += eio::EncodePayload({eio::Packet::Text(eio::PacketType::kClose)});
    server_.Reply(request_, respond, MakeResponse(http::status::ok, "text/plain; charset=UTF-8", std::move(payload)));
  }
  if (!linger) {
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
  }
  auto on_close_fn = std::move(on_close);
  on_close = nullptr;
  on_message = nullptr;
  if (on_close_fn && impl_->started) on_close_fn(reason);
}

void EngineSession::StartLinger() {
  // The outbox keeps its packets and the session stays registered, so that the client's next
  // request finds it.
  lingering_.store(true);
  impl_->timer.expires_after(server_.options_.close_linger);
  impl_->timer.async_wait([weak = weak_from_this()](beast::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->lingering_) return;
    self->FinishLinger();
  });
}

void EngineSession::FinishLinger() {
  if (!lingering_.exchange(false)) return;
  impl_->timer.cancel();
  impl_->outbox.Clear();
  if (impl_->ws) {
    impl_->ws->Close();  // after the frames already queued on it
    impl_->ws->Detach();
    impl_->ws.reset();
  }
  if (impl_->probe) {
    impl_->probe->Close();
    impl_->probe->Detach();
    impl_->probe.reset();
  }
  server_.Remove(*this);
}

// ---- WsTransport ---------------------------------------------------------------------------------

namespace {

// The client's frames are read into this per-thread scratch buffer and parsed at once: only an
// incomplete frame is copied into the connection's own state.
constexpr size_t kReadChunk = 64 * 1024;
// Gathered write: at most this many queued chunks per sendmsg.
constexpr size_t kMaxIov = 64;

bool HeaderHasToken(const Request& request, http::field field, std::string_view token) {
  auto it = request.find(field);
  if (it == request.end()) return false;
  for (auto part : http::token_list(it->value())) {
    if (beast::iequals(part, token)) return true;
  }
  return false;
}

std::string HandshakeError(http::status status, std::string_view extra_headers) {
  std::string reply = "HTTP/1.1 " + std::to_string(static_cast<int>(status)) + " " +
                      std::string(http::obsolete_reason(status)) + "\r\nConnection: close\r\n";
  reply.append(extra_headers);
  reply.append("Content-Length: 0\r\n\r\n");
  return reply;
}

}  // namespace

void WsTransport::Accept(const Request& request, std::function<void(bool ok)> on_open) {
  // The same checks as a WebSocket library's accept (RFC 6455 section 4.2.1).
  std::string reply;
  bool ok = false;
  auto key = request.find(http::field::sec_websocket_key);
  auto version = request.find(http::field::sec_websocket_version);
  if (request.method() != http::verb::get || request.version() < 11 ||
      !HeaderHasToken(request, http::field::connection, "upgrade") ||
      !HeaderHasToken(request, http::field::upgrade, "websocket") || key == request.end() ||
      version == request.end()) {
    reply = HandshakeError(http::status::bad_request, "");
  } else if (version->value() != "13") {
    reply = HandshakeError(http::status::upgrade_required, "Sec-WebSocket-Version: 13\r\n");
  } else {
    auto decoded = Base64Decode(std::string_view(key->value().data(), key->value().size()));
    if (!decoded || decoded->size() != 16) {
      reply = HandshakeError(http::status::bad_request, "");
    } else {
      ok = true;
      reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
              ws::AcceptKey(std::string_view(key->value().data(), key->value().size())) + "\r\n\r\n";
    }
  }
  beast::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(tcp::no_delay(true), ec);
  auto data = std::make_shared<std::string>(std::move(reply));
  net::async_write(socket_, net::buffer(*data),
                   [self = shared_from_this(), data, ok, on_open = std::move(on_open)](beast::error_code ec, size_t) {
                     if (ec || !ok || !self->session_) {
                       self->Teardown();
                       on_open(false);
                       return;
                     }
                     self->open_ = true;
                     on_open(true);
                     if (self->session_) self->DoRead();
                   });
}

void WsTransport::StartProbeTimer(std::chrono::milliseconds timeout) {
  timer_ = std::make_unique<net::steady_timer>(socket_.get_executor());
  timer_->expires_after(timeout);
  timer_->async_wait([weak = weak_from_this()](beast::error_code ec) {
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
  if (torn_down_) return;
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](beast::error_code ec) { self->OnReadable(ec); });
}

void WsTransport::OnReadable(beast::error_code ec) {
  if (ec) return OnReadError(ec);
  thread_local std::unique_ptr<char[]> scratch(new char[kReadChunk]);
  std::vector<ws::Event> events;
  for (;;) {
    if (torn_down_) return;
    const size_t n = socket_.read_some(net::buffer(scratch.get(), kReadChunk), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) break;
    if (ec) return OnReadError(ec);
    events.clear();
    auto violation = reader_.Feed(std::string_view(scratch.get(), n), events);
    for (auto& event : events) {
      if (!HandleEvent(event)) return;
    }
    if (violation) {
      // Fail the connection (RFC 6455 section 7.1.7): close frame with the code, then the socket.
      auto session = session_;
      session_.reset();
      StartClose(violation->code);
      close_after_flush_ = true;
      Flush();
      if (session && !probe_ && session->impl_->ws.get() == this) {
        session->CloseOnStrand("transport error", false);
      } else if (session && probe_ && session->impl_->probe.get() == this) {
        session->impl_->probe.reset();
        session->impl_->upgrading = false;
      }
      return;
    }
    if (n < kReadChunk) break;  // drained (edge-triggered readiness is re-armed by the next wait)
  }
  if (!torn_down_) DoRead();
}

// Returns false when reading must stop (the socket is gone, or the close handshake is complete).
bool WsTransport::HandleEvent(ws::Event& event) {
  switch (event.opcode) {
    case ws::Opcode::kText:
      return OnMessage(std::move(event.payload), false);
    case ws::Opcode::kBinary:
      return OnMessage(std::move(event.payload), true);
    case ws::Opcode::kPing:
      if (!closing_) Enqueue({nullptr, ws::EncodeFrame(ws::Opcode::kPong, event.payload)}, true);
      return true;
    case ws::Opcode::kPong:
      return true;
    case ws::Opcode::kClose: {
      // The client closes: answer with its code (if any), then close the socket.
      const bool we_started = closing_;
      if (!we_started) {
        uint16_t code = ws::kCloseNormal;
        if (event.payload.size() >= 2) {
          code = static_cast<uint16_t>((static_cast<unsigned char>(event.payload[0]) << 8) |
                                       static_cast<unsigned char>(event.payload[1]));
        }
        StartClose(code);
      }
      close_after_flush_ = true;
      Flush();  // tears the socket down once the answer is out
      DetachFromSession(websocket::error::closed);
      return false;
    }
    default:
      return true;
  }
}

// Once this side has started closing, data frames are discarded but reading goes on, so that the
// client's close reply is seen and the socket shut at once instead of when the close timer fires.
bool WsTransport::OnMessage(std::string payload, bool binary) {
  auto session = session_;
  if (!session || closing_) return !torn_down_;
  auto packet = eio::DecodeWebSocketFrame(payload, binary, session->server_.options_.max_payload);
  if (!packet.ok()) {
    if (probe_) {
      Close();
      return !torn_down_;
    }
    session->CloseOnStrand("parse error", false);
    return !torn_down_;
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
      if (timer_) timer_->cancel();
      impl.ws = std::move(impl.probe);
      impl.upgrading = false;
      session->transport_ = eio::Transport::kWebSocket;
      session->server_.counters_.upgrades.fetch_add(1, std::memory_order_relaxed);
      std::vector<eio::Packet> queued;
      while (!impl.outbox.empty()) queued.push_back(impl.outbox.Pop());
      impl.outbox.Clear();
      if (session->lingering_) {
        // Closed by the server during the upgrade: deliver what was queued over the WebSocket, one
        // frame per packet, then the CLOSE, then close it.
        queued.push_back(eio::Packet::Text(eio::PacketType::kClose));
        Send(queued);
        session->FinishLinger();
        return !torn_down_;
      }
      if (!queued.empty() && !Send(queued)) {
        session->CloseOnStrand("transport error", false);
        return !torn_down_;
      }
    } else {
      // Anything else during the probe fails the upgrade; polling carries on.
      impl.upgrading = false;
      impl.probe.reset();
      Close();
      return !torn_down_;
    }
  } else {
    session->OnPacket(std::move(*packet));
  }
  return !torn_down_;
}

void WsTransport::OnReadError(beast::error_code ec) {
  Teardown();
  DetachFromSession(ec);
}

void WsTransport::DetachFromSession(beast::error_code ec) {
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
  if (closing_ || torn_down_) return true;
  Chunk chunk;
  for (const auto& p : packets) {
    auto frame = eio::EncodeWebSocketFrame(p);
    char header[10];
    const size_t n = ws::EncodeHeader(frame.binary ? ws::Opcode::kBinary : ws::Opcode::kText, frame.payload.size(), header);
    chunk.owned.append(header, n);
    chunk.owned.append(frame.payload);
  }
  return Enqueue(std::move(chunk));
}

bool WsTransport::SendShared(const std::shared_ptr<const SharedPackets>& packets) {
  if (closing_ || torn_down_) return true;
  return Enqueue({packets, {}});
}

bool WsTransport::Enqueue(Chunk chunk, bool bypass_bound) {
  const size_t size = chunk.bytes().size();
  if (size == 0) return true;
  const size_t max = session_ ? session_->server_.options_.max_buffered_bytes : eio::kDefaultMaxPayload;
  if (!bypass_bound && !queue_.empty() && queued_bytes_ + size > max) return false;
  queue_.push_back(std::move(chunk));
  queued_bytes_ += size;
  if (!waiting_write_) Flush();
  return true;
}

// Writes as much of the queue as the socket takes now (one gathered sendmsg per kMaxIov chunks);
// the rest waits for writability. A healthy client takes everything at once, so the common path
// costs one system call and no asynchronous operation.
void WsTransport::Flush() {
  if (torn_down_) return;
  while (!queue_.empty()) {
    std::array<net::const_buffer, kMaxIov> buffers;
    size_t count = 0;
    for (size_t i = 0; i < queue_.size() && count < kMaxIov; ++i, ++count) {
      std::string_view bytes = queue_[i].bytes();
      if (i == 0) bytes.remove_prefix(head_offset_);
      buffers[count] = net::buffer(bytes.data(), bytes.size());
    }
    beast::error_code ec;
    size_t written = socket_.write_some(std::span<const net::const_buffer>(buffers.data(), count), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) {
      waiting_write_ = true;
      socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
        self->waiting_write_ = false;
        if (ec) return self->Teardown();
        self->Flush();
      });
      return;
    }
    if (ec) {
      Teardown();
      return;
    }
    // Drop what was written.
    size_t done = 0;
    while (done < queue_.size() && written > 0) {
      const size_t left = queue_[done].bytes().size() - head_offset_;
      if (written >= left) {
        written -= left;
        queued_bytes_ -= queue_[done].bytes().size();
        head_offset_ = 0;
        ++done;
      } else {
        head_offset_ += written;
        written = 0;
      }
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
  }
  if (close_after_flush_) {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    Teardown();
  }
}

void WsTransport::StartClose(uint16_t code) {
  if (closing_ || torn_down_) return;
  // Before the 101 response is out there is no WebSocket to close politely.
  if (!open_ || !socket_.is_open()) return Teardown();
  Enqueue({nullptr, ws::EncodeClose(code)}, true);
  closing_ = true;
  // Wait (while reading) for the client's close frame; a client that never answers is cut off.
  if (!timer_) timer_ = std::make_unique<net::steady_timer>(socket_.get_executor());
  timer_->expires_after(std::chrono::seconds(5));
  timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Teardown();
  });
}

void WsTransport::Teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  if (timer_) timer_->cancel();
  beast::error_code ignored;
  socket_.close(ignored);
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
      // CloseAll sets closing_ before taking its snapshot: a session inserted after the snapshot
      // sees the flag here, so no session outlives a CloseAll.
      if (closing_) {
        Remove(*session);
        return nullptr;
      }
      return session;
    }
    info = session->request_;  // id collision (never in practice): try again
  }
}

void EngineServer::Remove(EngineSession& session) {
  if (!sessions_.Erase(session.id_, &session)) return;
  counters_.sessions_closed.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_session_closed) options_.on_session_closed(session.request_);
}

void EngineServer::HandleRequest(Request request, RequestInfo info, Responder respond,
                                 std::function<tcp::socket()> take_socket) {
  if (info.method == "OPTIONS") {
    Response res = MakeResponse(http::status::no_content, "text/plain", "");
    res.set(http::field::access_control_allow_methods, "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (auto h = info.Header("access-control-request-headers")) res.set(http::field::access_control_allow_headers, *h);
    return Reply(info, respond, std::move(res));
  }
  auto reply_shutting_down = [&] {
    Reply(info, respond, MakeResponse(http::status::service_unavailable, "application/json",
                                      R"({"code":4,"message":"Server shutting down"})"));
  };
  eio::HandshakeRequest hr;
  hr.method = info.method;
  hr.eio = info.Query("EIO");
  hr.transport = info.Query("transport");
  hr.sid = info.Query("sid");
  hr.websocket_upgrade = websocket::is_upgrade(request);
  auto result = eio::ValidateHandshake(hr, [this](std::string_view sid) -> std::optional<eio::Transport> {
    auto s = sessions_.Find(sid);
    if (!s || (s->closed() && !s->lingering_)) return std::nullopt;
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
    // Shutting down refuses new sessions only: existing ones still fetch their final packets.
    if (closing_) return reply_shutting_down();
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
      auto session = NewSession(eio::Transport::kPolling, info);
      if (!session) return reply_shutting_down();
      net::dispatch(session->strand_, [session, respond = std::move(respond)]() mutable {
        session->Start();
        session->OnPollGet(std::move(respond));
      });
      return;
    }
    EngineSession::Strand strand(net::any_io_executor(io_.get_executor()));
    auto session = NewSession(eio::Transport::kWebSocket, info, strand);
    if (!session) return reply_shutting_down();
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
