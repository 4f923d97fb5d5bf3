// Server side of RFC 6455 WebSocket framing, without I/O: the opening handshake's accept key, a
// strict incremental reader for client frames and the (unmasked) server frame header. Used by the
// Engine.IO WebSocket transport instead of a full WebSocket stream object so that an idle
// connection holds no buffers at all (a partial frame is buffered only while it is incomplete).
// No extensions are negotiated (no permessage-deflate), so RSV bits are always an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::socketio::server::ws {

enum class Opcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// Close codes the reader reports (RFC 6455 section 7.4.1).
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseInvalidPayload = 1007;  // text that is not UTF-8
inline constexpr uint16_t kCloseTooBig = 1009;

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + RFC GUID)).
std::string AcceptKey(std::string_view client_key);

// Same as sb::IsValidUtf8 (sb/common/utf8.h): well-formed UTF-8, no overlongs/surrogates, <= U+10FFFF.
bool IsValidUtf8(std::string_view text);

// Writes the header of one unfragmented, unmasked server frame carrying `payload_size` bytes into
// `out` (at least 10 bytes); returns the header's length (2, 4 or 10).
size_t EncodeHeader(Opcode opcode, uint64_t payload_size, char* out);
// A whole server frame (header + payload) as one string.
std::string EncodeFrame(Opcode opcode, std::string_view payload);
// A close frame with `code` (and no reason).
std::string EncodeClose(uint16_t code);

// One complete message or control frame from the client.
struct Event {
  Opcode opcode;        // kText, kBinary (whole, reassembled messages), kPing, kPong or kClose
  std::string payload;  // unmasked; for kClose the raw close body (code + reason) if any
};

// A protocol violation: the connection must be failed with a close frame carrying `code`.
struct Violation {
  uint16_t code;
  std::string_view what;
};

// Incremental reader of client frames. Enforces: masked frames, no RSV bits, known opcodes,
// minimal length encodings, control frames unfragmented and <= 125 bytes, continuation only inside
// a fragmented message and none of a new message inside one, messages <= max_message bytes
// (checked from the headers, before buffering), UTF-8 text, a well-formed close body. After a
// violation or a close frame it consumes nothing more. Never throws or crashes on any input.
class Reader {
 public:
  explicit Reader(size_t max_message) : max_message_(max_message) {}

  // Parses `data` (appended to any incomplete frame kept from earlier calls); appends each complete
  // message/control frame to `events` in order. Returns a violation if one was found (events before
  // it are still delivered).
  std::optional<Violation> Feed(std::string_view data, std::vector<Event>& events);

  // Bytes held for an incomplete frame or a fragmented message (0 when idle). At most
  // max_message + 14 + 125: the fragmented message so far (<= max_message) plus one incomplete frame,
  // i.e. a data frame (header <= 14, payload fitting within max_message together with the message)
  // or a control frame (header <= 6, payload <= 125).
  size_t buffered() const { return pending_.size() + message_.size(); }

 private:
  // Parses one frame at the start of `data`; returns the bytes consumed (0: incomplete).
  size_t ParseOne(std::string_view data, std::vector<Event>& events, std::optional<Violation>& violation);

  size_t max_message_;
  std::string pending_;  // bytes of an incomplete frame
  std::string message_;  // payload of a fragmented message so far
  Opcode message_opcode_ = Opcode::kContinuation;  // kContinuation: no fragmented message open
  bool done_ = false;    // violation or close seen
};

}  // namespace sb::socketio::server::ws
