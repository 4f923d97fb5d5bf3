#include "sb/socketio/engineio.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sb/socketio/base64.h"

namespace sb::socketio::eio {

std::string_view PacketTypeName(PacketType type) {
  switch (type) {
    case PacketType::kOpen: return "open";
    case PacketType::kClose: return "close";
    case PacketType::kPing: return "ping";
    case PacketType::kPong: return "pong";
    case PacketType::kMessage: return "message";
    case PacketType::kUpgrade: return "upgrade";
    case PacketType::kNoop: return "noop";
  }
  return "unknown";
}

namespace {

std::string EncodeText(const Packet& packet) {
  std::string out;
  out.reserve(1 + packet.data.size());
  out += static_cast<char>('0' + static_cast<int>(packet.type));
  out += packet.data;
  return out;
}

}  // namespace

WebSocketFrame EncodeWebSocketFrame(const Packet& packet) {
  if (packet.binary) return {true, packet.data};
  return {false, EncodeText(packet)};
}

absl::StatusOr<Packet> DecodeTextPacket(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("engine.io: empty packet");
  const char head = text.front();
  text.remove_prefix(1);
  if (head == 'b') {
    // Base64 binary message: used by polling, and by websocket clients without binary support.
    auto bytes = Base64Decode(text);
    if (!bytes) return absl::InvalidArgumentError("engine.io: invalid base64 in binary packet");
    return Packet::BinaryMessage(std::move(*bytes));
  }
  if (head < '0' || head > '6') {
    return absl::InvalidArgumentError(
        absl::StrCat("engine.io: unknown packet type '", std::string(1, head), "'"));
  }
  return Packet::Text(static_cast<PacketType>(head - '0'), std::string(text));
}

absl::StatusOr<Packet> DecodeWebSocketFrame(std::string_view payload, bool binary_frame,
                                            size_t max_payload) {
  if (payload.size() > max_payload) {
    return absl::ResourceExhaustedError(absl::StrCat("engine.io: frame of ", payload.size(),
                                                     " bytes exceeds maxPayload ", max_payload));
  }
  // An empty binary frame is a legitimate empty binary message (e.g. an empty ArrayBuffer).
  if (binary_frame) return Packet::BinaryMessage(std::string(payload));
  return DecodeTextPacket(payload);
}

std::string EncodePayload(const std::vector<Packet>& packets) {
  std::string out;
  for (size_t i = 0; i < packets.size(); ++i) {
    if (i > 0) out += kRecordSeparator;
    const Packet& p = packets[i];
    if (p.binary) {
      out += 'b';
      out += Base64Encode(p.data);
    } else {
      out += EncodeText(p);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Packet>> DecodePayload(std::string_view body, size_t max_payload) {
  if (body.size() > max_payload) {
    return absl::ResourceExhaustedError(absl::StrCat("engine.io: payload of ", body.size(),
                                                     " bytes exceeds maxPayload ", max_payload));
  }
  if (body.empty()) return absl::InvalidArgumentError("engine.io: empty payload");
  std::vector<Packet> packets;
  size_t index = 0;
  while (true) {
    const size_t sep = body.find(kRecordSeparator);
    const std::string_view record = body.substr(0, sep);
    auto packet = DecodeTextPacket(record);
    if (!packet.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(packet.status().message(), " (payload record ", index, ")"));
    }
    packets.push_back(std::move(*packet));
    if (sep == std::string_view::npos) break;
    body.remove_prefix(sep + 1);
    ++index;
  }
  return packets;
}

std::string EncodeOpenJson(const OpenInfo& info) {
  boost::json::object obj;
  obj["sid"] = info.sid;
  boost::json::array upgrades;
  for (const auto& u : info.upgrades) upgrades.emplace_back(u);
  obj["upgrades"] = std::move(upgrades);
  obj["pingInterval"] = info.ping_interval_ms;
  obj["pingTimeout"] = info.ping_timeout_ms;
  obj["maxPayload"] = info.max_payload;
  return boost::json::serialize(obj);
}

Packet MakeOpenPacket(const OpenInfo& info) { return Packet::Text(PacketType::kOpen, EncodeOpenJson(info)); }

}  // namespace sb::socketio::eio
