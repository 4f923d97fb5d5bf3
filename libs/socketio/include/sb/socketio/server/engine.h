// Engine.IO v4 server (engine.io 6.x behaviour): sessions, long-polling and WebSocket transports,
// the polling -> WebSocket upgrade, heartbeats, payload limits, CORS and the allowRequest hook.
//
// Transports:
//   polling    GET  <path>?EIO=4&transport=polling            -> OPEN packet (new session)
//              GET  ...&sid=X   long-poll, held until packets are queued or the session closes;
//                               a second concurrent GET is answered 400 and closes the session
//              POST ...&sid=X   body = payload ("\x1e"-joined); answered "ok"; > maxPayload -> 413
//   websocket  GET  ...&transport=websocket (Upgrade)         -> new session, OPEN as first frame
//              GET  ...&transport=websocket&sid=X (Upgrade)   -> upgrade of a polling session:
//                   "2probe" -> "3probe"; the pending GET is answered with NOOP; on "5" the session
//                   switches to the WebSocket and flushes its queue there.
// Errors before a session exists get the reference server's 400/403 {"code","message"} bodies.
//
// Threading: each session has its own strand; its callbacks (on_message, on_close) run there, in
// order. Send()/Close() may be called from any thread. Memory per idle WebSocket session: the TCP
// socket, the RFC 6455 framing state (ws_frame.h; no buffer while no frame is partially received),
// one steady_timer (heartbeat) and an empty outbox; no permessage-deflate.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "sb/socketio/engineio.h"
#include "sb/socketio/handshake.h"
#include "sb/socketio/server/http.h"
#include "sb/socketio/server/session_registry.h"

namespace sb::socketio::server {

// A refusal from the allowRequest hook: sent as `http_status` with {"code":4,"message":message}.
struct Refusal {
  int http_status = 403;
  std::string message = "Forbidden";
};

struct EngineOptions {
  std::string path = "/socket.io/";  // requests whose path starts with this go to Engine.IO
  std::chrono::milliseconds ping_interval{25'000};
  std::chrono::milliseconds ping_timeout{20'000};
  // maxHttpBufferSize: largest POST body / WebSocket message accepted, announced as maxPayload.
  size_t max_payload = eio::kDefaultMaxPayload;
  // Bound on the bytes queued for one client; a client that reads slower than we write is
  // disconnected ("transport error", log reason "slow consumer") when it is exceeded.
  size_t max_buffered_bytes = 4 * 1024 * 1024;
  bool allow_polling = true;
  bool allow_websocket = true;
  bool allow_upgrades = true;
  // Upgrade must complete ("5") this long after the WebSocket opened, or the probe is dropped.
  std::chrono::milliseconds upgrade_timeout{10'000};
  // A server-side close of a polling session with no poll waiting, with packets still queued, or in
  // the middle of an upgrade keeps the session for at most this long, so that the client's next
  // polls (queued packets first, then the CLOSE), or the completed upgrade, still receive them
  // (the reference server's closeTimeout).
  std::chrono::milliseconds close_linger{5'000};
  // CORS: allowed Origin values; "*" allows any origin (development). Empty: no CORS headers.
  std::vector<std::string> cors_origins;
  bool cors_credentials = true;
  // Called for every request that would open a new session (polling handshake or direct
  // WebSocket), on the connection's strand. Return a Refusal to reject it.
  std::function<std::optional<Refusal>(const RequestInfo&)> allow_request;
  // Called once for every session when it leaves the registry (closed, after any close_linger),
  // with the request that opened it, on any thread. Every session was admitted by allow_request
  // first, so the two pair up: count live sessions per key (e.g. client address) in allow_request
  // and release them here.
  std::function<void(const RequestInfo&)> on_session_closed;
};

class EngineServer;

// MESSAGE packets encoded once for many sessions (a broadcast): every WebSocket session queues the
// same immutable wire bytes (no per-recipient copy); polling sessions copy `packets`.
struct SharedPackets {
  std::vector<eio::Packet> packets;
  std::string websocket_frames;  // the packets as complete WebSocket frames, back to back
};
std::shared_ptr<const SharedPackets> MakeSharedPackets(std::vector<eio::Packet> packets);

// One Engine.IO session (one client connection, whatever its transport).
class EngineSession : public std::enable_shared_from_this<EngineSession> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  ~EngineSession();

  const std::string& id() const { return id_; }
  // The request that opened the session (handshake headers, query, remote address).
  const RequestInfo& request() const { return request_; }
  const Strand& strand() const { return strand_; }
  // Current transport (may change from polling to websocket once). Any thread.
  eio::Transport transport() const { return transport_.load(); }
  bool closed() const { return closed_.load(); }

  // Queues Engine.IO MESSAGE packets (text or binary) in order. Any thread; no-op once closed.
  void Send(std::vector<eio::Packet> packets);
  // Same as Send() for packets shared with other sessions. Any thread; no-op once closed.
  void Send(std::shared_ptr<const SharedPackets> packets);
  // Closes the session: the client is told (WebSocket close frame, or a CLOSE packet after every
  // queued packet on the next poll or over the WebSocket a pending upgrade completes; bounded by
  // close_linger), on_close runs once with `reason` at once. Any thread; idempotent.
  void Close(std::string reason);

  // Set by the owner of the session in EngineServer's on_connection callback (on the strand),
  // before any packet is delivered. on_message gets MESSAGE packets only; on_close runs once with
  // "transport close", "transport error", "ping timeout", "parse error", "forced close",
  // "server shutting down" or the reason passed to Close().
  std::function<void(eio::Packet)> on_message;
  std::function<void(const std::string& reason)> on_close;

 private:
  friend class EngineServer;
  friend class WsTransport;
  class Impl;
  EngineSession(EngineServer& server, Strand strand, std::string id, eio::Transport transport,
                RequestInfo request);

  void Start();
  void SendOnStrand(std::vector<eio::Packet> packets);
  void SendSharedOnStrand(const std::shared_ptr<const SharedPackets>& packets);
  void OnSlowConsumer();
  void CloseOnStrand(const std::string& reason, bool tell_client);
  void OnPacket(eio::Packet packet);
  void OnPollGet(Responder respond);
  void OnPollPost(std::string body, Responder respond);
  void FlushPolling();
  void ArmHeartbeat(std::chrono::steady_clock::time_point deadline);
  // After a server-side close that could not reach the client yet: hand the queued packets and the
  // CLOSE to the next poll or the upgraded WebSocket, or drop them after close_linger.
  void StartLinger();
  void FinishLinger();

  EngineServer& server_;
  Strand strand_;
  std::string id_;
  RequestInfo request_;
  std::atomic<eio::Transport> transport_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> lingering_{false};  // closed, still registered until the client got the CLOSE
  std::unique_ptr<Impl> impl_;
};

// Serves Engine.IO under options.path. Plug it into HttpServer as its RequestRouter. Must outlive
// the io_context's threads.
class EngineServer : public RequestRouter {
 public:
  EngineServer(boost::asio::io_context& io, EngineOptions options);
  ~EngineServer() override;

  // Called on the new session's strand once per session, before its first packet.
  void SetConnectionHandler(std::function<void(std::shared_ptr<EngineSession>)> handler);

  const EngineOptions& options() const { return options_; }
  std::string_view path() const override { return options_.path; }
  void HandleRequest(Request request, RequestInfo info, Responder respond,
                     std::function<boost::asio::ip::tcp::socket()> take_socket) override;

  std::shared_ptr<EngineSession> FindSession(std::string_view sid) const { return sessions_.Find(sid); }
  size_t session_count() const { return sessions_.size(); }

  // Refuses new sessions from now on (503) and closes every session with "server shutting down".
  // Returns at once; sessions finish closing asynchronously (see session_count()).
  void CloseAll();

  // Counters (monotonic unless noted).
  struct Counters {
    std::atomic<uint64_t> sessions_opened{0};
    std::atomic<uint64_t> sessions_closed{0};
    std::atomic<uint64_t> upgrades{0};
    std::atomic<uint64_t> packets_in{0};
    std::atomic<uint64_t> packets_out{0};
    std::atomic<uint64_t> handshake_errors{0};
    std::atomic<uint64_t> refused_requests{0};  // allow_request refusals
    std::atomic<uint64_t> payload_too_large{0};
    std::atomic<uint64_t> slow_consumers{0};
  };
  const Counters& counters() const { return counters_; }

 private:
  friend class EngineSession;
  friend class WsTransport;
  void ApplyCors(const RequestInfo& info, Response& res) const;
  void Reply(const RequestInfo& info, const Responder& respond, Response res) const;
  void ReplyError(const RequestInfo& info, const Responder& respond, eio::ErrorCode code);
  // Registers a new session; nullptr once CloseAll has started (the caller answers 503).
  std::shared_ptr<EngineSession> NewSession(eio::Transport transport, RequestInfo info,
                                            std::optional<EngineSession::Strand> strand = std::nullopt);
  void Remove(EngineSession& session);

  boost::asio::io_context& io_;
  EngineOptions options_;
  std::function<void(std::shared_ptr<EngineSession>)> on_connection_;
  SessionRegistry<EngineSession> sessions_;
  std::atomic<bool> closing_{false};
  Counters counters_;
};

}  // namespace sb::socketio::server
