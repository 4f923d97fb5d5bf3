// Socket.IO header decoding: any input either fails cleanly or decodes to a packet that passes
// ValidatePacket and survives an encode/decode round trip unchanged.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "sb/socketio/socketio.h"

namespace sio = sb::socketio::sio;

namespace {

// Structural equality, except that doubles only need to agree to ~15 significant digits: Boost.JSON
// 1.81 parses numbers with a fast algorithm that is not always correctly rounded (e.g. 120-digit
// integers), so serialize -> parse may move a double by an ulp or so.
bool NearlyEqual(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 1e-14 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &xa = a.get_array(), &ya = b.get_array();
    if (xa.size() != ya.size()) return false;
    for (size_t i = 0; i < xa.size(); ++i) {
      if (!NearlyEqual(xa[i], ya[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto &xo = a.get_object(), &yo = b.get_object();
    if (xo.size() != yo.size()) return false;
    for (const auto& kv : xo) {
      const boost::json::value* other = yo.if_contains(kv.key());
      if (other == nullptr || !NearlyEqual(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

bool NearlyEqual(const sio::Packet& a, const sio::Packet& b) {
  if (a.type != b.type || a.nsp != b.nsp || a.id != b.id || a.attachments != b.attachments) return false;
  if (a.data.has_value() != b.data.has_value()) return false;
  return !a.data || NearlyEqual(*a.data, *b.data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  sio::DecodeOptions options;
  options.max_attachments = 8;
  auto header = sio::DecodeHeader(input, options);
  if (!header.ok()) return 0;

  SB_FUZZ_CHECK(header->attachment_count <= options.max_attachments);
  SB_FUZZ_CHECK(sio::IsBinaryType(header->packet.type) || header->attachment_count == 0);
  sio::Packet packet = std::move(header->packet);
  for (size_t i = 0; i < header->attachment_count; ++i) packet.attachments.push_back(std::to_string(i));
  SB_FUZZ_CHECK(sio::ValidatePacket(packet).ok());

  auto encoded = sio::EncodeHeader(packet);
  SB_FUZZ_CHECK(encoded.ok());
  auto again = sio::DecodeHeader(*encoded, options);
  SB_FUZZ_CHECK(again.ok());
  SB_FUZZ_CHECK(again->attachment_count == packet.attachments.size());
  again->packet.attachments = packet.attachments;
  SB_FUZZ_CHECK(NearlyEqual(again->packet, packet));

  if (packet.type == sio::PacketType::kEvent || packet.type == sio::PacketType::kBinaryEvent) {
    SB_FUZZ_CHECK(sio::Args(packet).size() + 1 == packet.data->as_array().size());
  }
  return 0;
}
