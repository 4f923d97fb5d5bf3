#include "sb/socketio/socketio.h"

#include <array>
#include <cmath>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>

#include "absl/strings/str_cat.h"
#include "sb/common/status.h"

namespace sb::socketio::sio {
namespace {

constexpr std::array<std::string_view, 6> kReservedEvents = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};

// Debian's abseil has its own string_view, which absl::StrCat needs.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("socket.io: ", AbslView(what)));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Valid UTF-8 without C0 control characters or DEL: namespaces end up in logs, JSON and metrics.
bool IsValidNamespaceText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

absl::Status ValidateNamespace(std::string_view nsp) {
  if (nsp.empty() || nsp.front() != '/') return Invalid("namespace must start with '/'");
  if (nsp.find(',') != std::string_view::npos) return Invalid("namespace must not contain ','");
  if (!IsValidNamespaceText(nsp)) return Invalid("namespace must be UTF-8 without control characters");
  return absl::OkStatus();
}

// Walks `value` and checks every placeholder: integer num in [0, count), each num exactly once.
// `seen` has one flag per attachment. Depth is bounded by the JSON parse depth (decode) or by the
// server's own data (encode).
absl::Status CheckPlaceholders(const boost::json::value& value, std::vector<bool>& seen) {
  if (IsPlaceholder(value)) {
    const boost::json::value* num = value.as_object().if_contains("num");
    if (num == nullptr) return Invalid("placeholder without num");
    uint64_t index;
    if (num->is_uint64()) {
      index = num->get_uint64();
    } else if (num->is_int64()) {
      if (num->get_int64() < 0) return Invalid("placeholder num is negative");
      index = static_cast<uint64_t>(num->get_int64());
    } else {
      return Invalid("placeholder num is not an integer");
    }
    if (index >= seen.size()) return Invalid("placeholder num out of range");
    if (seen[index]) return Invalid("attachment referenced by two placeholders");
    seen[index] = true;
    return absl::OkStatus();
  }
  if (value.is_array()) {
    for (const auto& v : value.get_array()) SB_RETURN_IF_ERROR(CheckPlaceholders(v, seen));
  } else if (value.is_object()) {
    for (const auto& kv : value.get_object()) SB_RETURN_IF_ERROR(CheckPlaceholders(kv.value(), seen));
  }
  return absl::OkStatus();
}

// Boost.JSON 1.81 parses an overflowing number such as 1e400 as infinity and serializes infinity as
// the invalid JSON "Infinity"; relaying such a value would break every receiving client's parser.
absl::Status CheckNumbersFinite(const boost::json::value& value) {
  if (value.is_double()) {
    if (!std::isfinite(value.get_double())) return Invalid("number out of range");
  } else if (value.is_array()) {
    for (const auto& v : value.get_array()) SB_RETURN_IF_ERROR(CheckNumbersFinite(v));
  } else if (value.is_object()) {
    for (const auto& kv : value.get_object()) SB_RETURN_IF_ERROR(CheckNumbersFinite(kv.value()));
  }
  return absl::OkStatus();
}

absl::Status ValidateData(PacketType type, const std::optional<boost::json::value>& data) {
  switch (type) {
    case PacketType::kConnect:
      if (data && !data->is_object()) return Invalid("CONNECT payload must be an object");
      return absl::OkStatus();
    case PacketType::kDisconnect:
      if (data) return Invalid("DISCONNECT must not have a payload");
      return absl::OkStatus();
    case PacketType::kConnectError:
      if (!data || !data->is_object()) return Invalid("CONNECT_ERROR payload must be an object");
      return absl::OkStatus();
    case PacketType::kEvent:
    case PacketType::kBinaryEvent: {
      if (!data || !data->is_array()) return Invalid("EVENT payload must be an array");
      const auto& arr = data->get_array();
      if (arr.empty()) return Invalid("EVENT payload must not be empty");
      if (!arr[0].is_string()) return Invalid("event name must be a string");
      const std::string_view name(arr[0].get_string().data(), arr[0].get_string().size());
      for (std::string_view reserved : kReservedEvents) {
        if (name == reserved) return Invalid(absl::StrCat("reserved event name '", AbslView(name), "'"));
      }
      return absl::OkStatus();
    }
    case PacketType::kAck:
    case PacketType::kBinaryAck:
      if (!data || !data->is_array()) return Invalid("ACK payload must be an array");
      return absl::OkStatus();
  }
  return Invalid("unknown packet type");
}

// Every rule except the namespace text and the attachment-count limit, shared by decode and encode.
absl::Status ValidateShape(const Packet& packet, size_t attachment_count) {
  const bool binary = IsBinaryType(packet.type);
  switch (packet.type) {
    case PacketType::kAck:
    case PacketType::kBinaryAck:
      if (!packet.id) return Invalid("ACK without an ack id");
      break;
    case PacketType::kConnect:
    case PacketType::kDisconnect:
    case PacketType::kConnectError:
      if (packet.id) return Invalid(absl::StrCat(AbslView(PacketTypeName(packet.type)), " must not have an ack id"));
      break;
    default:
      break;
  }
  if (packet.id && *packet.id > kMaxAckId) return Invalid("ack id out of range");
  SB_RETURN_IF_ERROR(ValidateData(packet.type, packet.data));
  if (packet.data) SB_RETURN_IF_ERROR(CheckNumbersFinite(*packet.data));
  if (!binary) {
    if (!packet.attachments.empty() || attachment_count != 0) {
      return Invalid("only binary packets carry attachments");
    }
    return absl::OkStatus();
  }
  std::vector<bool> seen(attachment_count, false);
  SB_RETURN_IF_ERROR(CheckPlaceholders(*packet.data, seen));
  for (bool s : seen) {
    if (!s) return Invalid("attachment not referenced by any placeholder");
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view PacketTypeName(PacketType type) {
  switch (type) {
    case PacketType::kConnect: return "CONNECT";
    case PacketType::kDisconnect: return "DISCONNECT";
    case PacketType::kEvent: return "EVENT";
    case PacketType::kAck: return "ACK";
    case PacketType::kConnectError: return "CONNECT_ERROR";
    case PacketType::kBinaryEvent: return "BINARY_EVENT";
    case PacketType::kBinaryAck: return "BINARY_ACK";
  }
  return "UNKNOWN";
}

bool IsBinaryType(PacketType type) {
  return type == PacketType::kBinaryEvent || type == PacketType::kBinaryAck;
}

absl::StatusOr<DecodedHeader> DecodeHeader(std::string_view text, const DecodeOptions& options) {
  if (text.empty()) return Invalid("empty packet");
  if (text[0] < '0' || text[0] > '6') {
    return Invalid(absl::StrCat("unknown packet type '", std::string(1, text[0]), "'"));
  }
  DecodedHeader out;
  Packet& packet = out.packet;
  packet.type = static_cast<PacketType>(text[0] - '0');
  size_t pos = 1;

  if (IsBinaryType(packet.type)) {
    const size_t start = pos;
    uint64_t count = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      // Stop accumulating once over the limit so that no digit string can overflow.
      if (count <= options.max_attachments) count = count * 10 + static_cast<uint64_t>(text[pos] - '0');
      ++pos;
    }
    if (pos == start || pos >= text.size() || text[pos] != '-') return Invalid("malformed attachment count");
    if (count > options.max_attachments) {
      return absl::ResourceExhaustedError(absl::StrCat("socket.io: too many attachments (limit ",
                                                       options.max_attachments, ")"));
    }
    out.attachment_count = static_cast<size_t>(count);
    ++pos;  // '-'
  }

  if (pos < text.size() && text[pos] == '/') {
    const size_t comma = text.find(',', pos);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    packet.nsp = std::string(text.substr(pos, end - pos));
    SB_RETURN_IF_ERROR(ValidateNamespace(packet.nsp));
    pos = comma == std::string_view::npos ? text.size() : comma + 1;
  }

  if (pos < text.size() && IsDigit(text[pos])) {
    uint64_t id = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      id = id * 10 + static_cast<uint64_t>(text[pos] - '0');
      if (id > kMaxAckId) return Invalid("ack id out of range");
      ++pos;
    }
    packet.id = id;
  }

  if (pos < text.size()) {
    boost::json::parse_options opts;
    opts.max_depth = options.max_json_depth;
    boost::json::error_code ec;
    const std::string_view json = text.substr(pos);
    boost::json::value data = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec,
                                                  boost::json::storage_ptr(), opts);
    if (ec) return Invalid(absl::StrCat("invalid JSON payload: ", ec.message()));
    packet.data = std::move(data);
  }

  SB_RETURN_IF_ERROR(ValidateShape(packet, out.attachment_count));
  return out;
}

absl::Status ValidatePacket(const Packet& packet) {
  if (static_cast<uint8_t>(packet.type) > 6) return Invalid("unknown packet type");
  SB_RETURN_IF_ERROR(ValidateNamespace(packet.nsp));
  return ValidateShape(packet, packet.attachments.size());
}

absl::StatusOr<std::string> EncodeHeader(const Packet& packet) {
  SB_RETURN_IF_ERROR(ValidatePacket(packet));
  std::string out;
  out += static_cast<char>('0' + static_cast<int>(packet.type));
  if (IsBinaryType(packet.type)) absl::StrAppend(&out, packet.attachments.size(), "-");
  if (packet.nsp != "/") absl::StrAppend(&out, packet.nsp, ",");
  if (packet.id) absl::StrAppend(&out, *packet.id);
  if (packet.data) out += boost::json::serialize(*packet.data);
  return out;
}

absl::StatusOr<std::vector<eio::Packet>> EncodeToEngineIo(Packet packet) {
  SB_ASSIGN_OR_RETURN(std::string header, EncodeHeader(packet));
  std::vector<eio::Packet> out;
  out.reserve(1 + packet.attachments.size());
  out.push_back(eio::Packet::Message(std::move(header)));
  for (auto& bytes : packet.attachments) out.push_back(eio::Packet::BinaryMessage(std::move(bytes)));
  return out;
}

boost::json::value AddBuffer(std::vector<std::string>& buffers, std::string bytes) {
  boost::json::object placeholder;
  placeholder["_placeholder"] = true;
  placeholder["num"] = static_cast<uint64_t>(buffers.size());
  buffers.push_back(std::move(bytes));
  return placeholder;
}

bool IsPlaceholder(const boost::json::value& value) {
  if (!value.is_object()) return false;
  const boost::json::value* flag = value.get_object().if_contains("_placeholder");
  return flag != nullptr && flag->is_bool() && flag->get_bool();
}

const std::string* ResolvePlaceholder(const Packet& packet, const boost::json::value& value) {
  if (!IsBinaryType(packet.type) || !IsPlaceholder(value)) return nullptr;
  const boost::json::value* num = value.get_object().if_contains("num");
  if (num == nullptr) return nullptr;
  uint64_t index;
  if (num->is_uint64()) {
    index = num->get_uint64();
  } else if (num->is_int64() && num->get_int64() >= 0) {
    index = static_cast<uint64_t>(num->get_int64());
  } else {
    return nullptr;
  }
  if (index >= packet.attachments.size()) return nullptr;
  return &packet.attachments[index];
}

namespace {

absl::StatusOr<Packet> MakeArgsPacket(PacketType plain, PacketType binary, std::string nsp,
                                      std::optional<uint64_t> id, boost::json::array data,
                                      std::vector<std::string> buffers) {
  Packet packet;
  packet.type = buffers.empty() ? plain : binary;
  packet.nsp = std::move(nsp);
  packet.id = id;
  packet.data = boost::json::value(std::move(data));
  packet.attachments = std::move(buffers);
  SB_RETURN_IF_ERROR(ValidatePacket(packet));
  return packet;
}

}  // namespace

absl::StatusOr<Packet> MakeEvent(std::string nsp, std::string_view event, boost::json::array args,
                                 std::vector<std::string> buffers, std::optional<uint64_t> ack_id) {
  boost::json::array data;
  data.reserve(args.size() + 1);
  data.emplace_back(boost::json::string_view(event.data(), event.size()));
  for (auto& a : args) data.push_back(std::move(a));
  return MakeArgsPacket(PacketType::kEvent, PacketType::kBinaryEvent, std::move(nsp), ack_id,
                        std::move(data), std::move(buffers));
}

absl::StatusOr<Packet> MakeAck(std::string nsp, uint64_t ack_id, boost::json::array args,
                               std::vector<std::string> buffers) {
  return MakeArgsPacket(PacketType::kAck, PacketType::kBinaryAck, std::move(nsp), ack_id,
                        std::move(args), std::move(buffers));
}

Packet MakeConnect(std::string nsp, std::string_view sid) {
  boost::json::object obj;
  obj["sid"] = boost::json::string_view(sid.data(), sid.size());
  Packet packet;
  packet.type = PacketType::kConnect;
  packet.nsp = std::move(nsp);
  packet.data = boost::json::value(std::move(obj));
  return packet;
}

Packet MakeConnectError(std::string nsp, std::string_view message, std::optional<boost::json::value> data) {
  boost::json::object obj;
  obj["message"] = boost::json::string_view(message.data(), message.size());
  if (data) obj["data"] = std::move(*data);
  Packet packet;
  packet.type = PacketType::kConnectError;
  packet.nsp = std::move(nsp);
  packet.data = boost::json::value(std::move(obj));
  return packet;
}

Packet MakeDisconnect(std::string nsp) {
  Packet packet;
  packet.type = PacketType::kDisconnect;
  packet.nsp = std::move(nsp);
  return packet;
}

std::string_view EventName(const Packet& packet) {
  if (packet.type != PacketType::kEvent && packet.type != PacketType::kBinaryEvent) return {};
  if (!packet.data || !packet.data->is_array() || packet.data->get_array().empty()) return {};
  const auto& first = packet.data->get_array()[0];
  if (!first.is_string()) return {};
  return {first.get_string().data(), first.get_string().size()};
}

std::span<const boost::json::value> Args(const Packet& packet) {
  if (!packet.data || !packet.data->is_array()) return {};
  const auto& arr = packet.data->get_array();
  switch (packet.type) {
    case PacketType::kEvent:
    case PacketType::kBinaryEvent:
      if (arr.empty()) return {};
      return {arr.data() + 1, arr.size() - 1};
    case PacketType::kAck:
    case PacketType::kBinaryAck:
      return {arr.data(), arr.size()};
    default:
      return {};
  }
}

}  // namespace sb::socketio::sio
