#include "sb/socketio/server/ws_frame.h"

#include <openssl/sha.h>

#include <array>
#include <cstring>

#include "sb/common/utf8.h"
#include "sb/socketio/base64.h"

namespace sb::socketio::server::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

uint64_t ReadBigEndian(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

bool IsValidCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

void AppendUnmasked(std::string& out, std::string_view payload, const char* mask) {
  const size_t start = out.size();
  out.append(payload);
  char* p = out.data() + start;
  // The mask repeats every 4 bytes; a word-at-a-time XOR would be faster but messages here are small.
  for (size_t i = 0; i < payload.size(); ++i) p[i] = static_cast<char>(p[i] ^ mask[i & 3]);
}

}  // namespace

std::string AcceptKey(std::string_view client_key) {
  std::string input(client_key);
  input.append(kGuid);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool IsValidUtf8(std::string_view text) { return sb::IsValidUtf8(text); }

size_t EncodeHeader(Opcode opcode, uint64_t payload_size, char* out) {
  out[0] = static_cast<char>(0x80 | static_cast<uint8_t>(opcode));
  if (payload_size < 126) {
    out[1] = static_cast<char>(payload_size);
    return 2;
  }
  if (payload_size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<char>(payload_size >> 8);
    out[3] = static_cast<char>(payload_size & 0xFF);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<char>((payload_size >> (56 - 8 * i)) & 0xFF);
  return 10;
}

std::string EncodeFrame(Opcode opcode, std::string_view payload) {
  char header[10];
  const size_t n = EncodeHeader(opcode, payload.size(), header);
  std::string frame;
  frame.reserve(n + payload.size());
  frame.append(header, n);
  frame.append(payload);
  return frame;
}

std::string EncodeClose(uint16_t code) {
  const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  return EncodeFrame(Opcode::kClose, std::string_view(body, 2));
}

std::optional<Violation> Reader::Feed(std::string_view data, std::vector<Event>& events) {
  if (done_) return std::nullopt;
  std::optional<Violation> violation;
  std::string_view input = data;
  const bool use_pending = !pending_.empty();
  if (use_pending) {
    pending_.append(data);
    input = pending_;
  }
  size_t offset = 0;
  while (!done_ && offset < input.size()) {
    const size_t used = ParseOne(input.substr(offset), events, violation);
    if (violation) {
      done_ = true;
      break;
    }
    if (used == 0) break;
    offset += used;
  }
  if (done_) {
    std::string().swap(pending_);
    std::string().swap(message_);
    return violation;
  }
  if (use_pending) {
    pending_.erase(0, offset);
    if (pending_.empty()) std::string().swap(pending_);  // idle connections hold no buffer
  } else if (offset < input.size()) {
    pending_.assign(input.substr(offset));
  }
  return std::nullopt;
}

size_t Reader::ParseOne(std::string_view d, std::vector<Event>& events, std::optional<Violation>& violation) {
  if (d.size() < 2) return 0;
  const auto b0 = static_cast<unsigned char>(d[0]);
  const auto b1 = static_cast<unsigned char>(d[1]);
  const bool fin = (b0 & 0x80) != 0;
  const uint8_t raw_opcode = b0 & 0x0F;
  if (b0 & 0x70) {
    violation = Violation{kCloseProtocolError, "reserved bits set"};
    return 0;
  }
  if (raw_opcode != 0 && raw_opcode != 1 && raw_opcode != 2 && raw_opcode != 8 && raw_opcode != 9 &&
      raw_opcode != 10) {
    violation = Violation{kCloseProtocolError, "unknown opcode"};
    return 0;
  }
  const auto opcode = static_cast<Opcode>(raw_opcode);
  if (!(b1 & 0x80)) {
    violation = Violation{kCloseProtocolError, "unmasked client frame"};
    return 0;
  }
  size_t pos = 2;
  uint64_t length = b1 & 0x7F;
  if (length == 126) {
    if (d.size() < 4) return 0;
    length = ReadBigEndian(d.data() + 2, 2);
    if (length < 126) {
      violation = Violation{kCloseProtocolError, "non-minimal length"};
      return 0;
    }
    pos = 4;
  } else if (length == 127) {
    if (d.size() < 10) return 0;
    length = ReadBigEndian(d.data() + 2, 8);
    if ((length >> 63) != 0 || length <= 0xFFFF) {
      violation = Violation{kCloseProtocolError, "bad 64-bit length"};
      return 0;
    }
    pos = 10;
  }
  const bool control = raw_opcode >= 8;
  if (control) {
    if (!fin || length > 125) {
      violation = Violation{kCloseProtocolError, "fragmented or oversized control frame"};
      return 0;
    }
  } else {
    const bool continuation = opcode == Opcode::kContinuation;
    const bool in_message = message_opcode_ != Opcode::kContinuation;
    if (continuation && !in_message) {
      violation = Violation{kCloseProtocolError, "continuation without a message"};
      return 0;
    }
    if (!continuation && in_message) {
      violation = Violation{kCloseProtocolError, "new message inside a fragmented one"};
      return 0;
    }
    const uint64_t so_far = continuation ? message_.size() : 0;
    if (length > max_message_ || so_far + length > max_message_) {
      violation = Violation{kCloseTooBig, "message too big"};
      return 0;
    }
  }
  // `length` is now bounded by max_message_ (or 125), so these additions cannot overflow.
  if (d.size() - pos < 4 || d.size() - pos - 4 < length) return 0;
  const char* mask = d.data() + pos;
  pos += 4;
  const std::string_view masked = d.substr(pos, static_cast<size_t>(length));
  const size_t consumed = pos + static_cast<size_t>(length);

  if (control) {
    Event event{opcode, {}};
    AppendUnmasked(event.payload, masked, mask);
    if (opcode == Opcode::kClose) {
      if (event.payload.size() == 1) {
        violation = Violation{kCloseProtocolError, "close frame with a 1-byte body"};
        return 0;
      }
      if (event.payload.size() >= 2) {
        const auto code = static_cast<uint16_t>(ReadBigEndian(event.payload.data(), 2));
        if (!IsValidCloseCode(code)) {
          violation = Violation{kCloseProtocolError, "invalid close code"};
          return 0;
        }
        if (!IsValidUtf8(std::string_view(event.payload).substr(2))) {
          violation = Violation{kCloseInvalidPayload, "close reason is not UTF-8"};
          return 0;
        }
      }
      done_ = true;
    }
    events.push_back(std::move(event));
    return consumed;
  }

  if (opcode == Opcode::kContinuation) {
    AppendUnmasked(message_, masked, mask);
    if (!fin) return consumed;
    Event event{message_opcode_, std::move(message_)};
    std::string().swap(message_);
    message_opcode_ = Opcode::kContinuation;
    if (event.opcode == Opcode::kText && !IsValidUtf8(event.payload)) {
      violation = Violation{kCloseInvalidPayload, "text message is not UTF-8"};
      return 0;
    }
    events.push_back(std::move(event));
    return consumed;
  }
  if (!fin) {
    message_opcode_ = opcode;
    message_.clear();
    AppendUnmasked(message_, masked, mask);
    return consumed;
  }
  Event event{opcode, {}};
  AppendUnmasked(event.payload, masked, mask);
  if (opcode == Opcode::kText && !IsValidUtf8(event.payload)) {
    violation = Violation{kCloseInvalidPayload, "text message is not UTF-8"};
    return 0;
  }
  events.push_back(std::move(event));
  return consumed;
}

}  // namespace sb::socketio::server::ws
