// Engine.IO v4 packets: the transport framing under Socket.IO (socket.io.dev "engine.io-protocol").
//
// Wire shapes:
//   text packet       <type digit><data>            e.g. "4hello", "2probe", "6"
//   websocket binary  a raw binary frame            always a MESSAGE, no type prefix
//   polling binary    "b" + base64(bytes)           inside a polling payload
//   polling payload   packets joined by "\x1e"      e.g. "4hello\x1e2\x1ebAQI="
//
// Every function here is pure: no I/O, no state. Decoders never crash on any input; they return
// InvalidArgument for malformed input and ResourceExhausted when a size limit is exceeded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sb::socketio::eio {

enum class PacketType : uint8_t {
  kOpen = 0,
  kClose = 1,
  kPing = 2,
  kPong = 3,
  kMessage = 4,
  kUpgrade = 5,
  kNoop = 6,
};

// The record separator between packets of a long-polling payload.
inline constexpr char kRecordSeparator = '\x1e';

// Default maxPayload of the reference server (maxHttpBufferSize): 1 MB.
inline constexpr size_t kDefaultMaxPayload = 1'000'000;

// One Engine.IO packet. Invariant kept by the constructors and decoders: `binary` implies
// type == kMessage (Engine.IO only carries binary data in MESSAGE packets).
struct Packet {
  PacketType type = PacketType::kMessage;
  std::string data;     // text (UTF-8 as received) or raw bytes when `binary`
  bool binary = false;  // true: `data` holds raw bytes of a binary message

  static Packet Text(PacketType type, std::string data = {}) { return {type, std::move(data), false}; }
  static Packet Message(std::string text) { return {PacketType::kMessage, std::move(text), false}; }
  static Packet BinaryMessage(std::string bytes) { return {PacketType::kMessage, std::move(bytes), true}; }

  friend bool operator==(const Packet&, const Packet&) = default;
};

// "open", "close", ... for logs and errors.
std::string_view PacketTypeName(PacketType type);

// ---- WebSocket transport: one packet per frame --------------------------------------------------

struct WebSocketFrame {
  bool binary = false;  // send as a binary frame (raw bytes) instead of a text frame
  std::string payload;
};

// Text packets become "<digit><data>" text frames; binary messages become raw binary frames.
WebSocketFrame EncodeWebSocketFrame(const Packet& packet);

// Decodes one received frame. A binary frame is a binary MESSAGE. A text frame is "<digit><data>",
// or "b<base64>" (a binary message from a client without binary support). Errors: empty frame,
// unknown type, bad base64 (InvalidArgument); frame larger than `max_payload` (ResourceExhausted).
absl::StatusOr<Packet> DecodeWebSocketFrame(std::string_view payload, bool binary_frame,
                                            size_t max_payload = kDefaultMaxPayload);

// ---- Long-polling transport: several packets per HTTP body --------------------------------------

// Text packets as "<digit><data>", binary messages as "b<base64>", joined by kRecordSeparator.
// Does not split: the caller decides how many packets go into one response.
// Text packet data must not contain kRecordSeparator (Socket.IO's JSON never does; raw text data
// containing it could not be decoded by any peer).
std::string EncodePayload(const std::vector<Packet>& packets);

// Decodes a polling request body. Strict: every record must be a valid packet (an empty body or an
// empty record between two separators is an error), and the body must be at most `max_payload`
// bytes (ResourceExhausted), checked before any decoding work.
absl::StatusOr<std::vector<Packet>> DecodePayload(std::string_view body,
                                                  size_t max_payload = kDefaultMaxPayload);

// Decodes one text packet "<digit><data>" or "b<base64>" (shared by both transports).
absl::StatusOr<Packet> DecodeTextPacket(std::string_view text);

// ---- Handshake ----------------------------------------------------------------------------------

// Contents of the OPEN packet the server sends first on a new session.
struct OpenInfo {
  std::string sid;
  std::vector<std::string> upgrades;  // {"websocket"} on polling, {} on websocket
  int64_t ping_interval_ms = 25'000;
  int64_t ping_timeout_ms = 20'000;
  int64_t max_payload = static_cast<int64_t>(kDefaultMaxPayload);
};

// {"sid":"...","upgrades":[...],"pingInterval":N,"pingTimeout":N,"maxPayload":N}, keys in that order.
std::string EncodeOpenJson(const OpenInfo& info);

// The OPEN packet itself: Packet::Text(kOpen, EncodeOpenJson(info)).
Packet MakeOpenPacket(const OpenInfo& info);

}  // namespace sb::socketio::eio
