// Engine.IO decoding: any input either fails cleanly or decodes to packets that re-encode and
// decode back to the same packets (polling payloads and websocket frames).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "sb/socketio/engineio.h"

namespace eio = sb::socketio::eio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto packets = eio::DecodePayload(input, 1 << 16);
  if (packets.ok()) {
    SB_FUZZ_CHECK(!packets->empty());
    for (const auto& p : *packets) {
      SB_FUZZ_CHECK(!p.binary || p.type == eio::PacketType::kMessage);
      SB_FUZZ_CHECK(p.binary || p.data.find(eio::kRecordSeparator) == std::string_view::npos);
    }
    auto again = eio::DecodePayload(eio::EncodePayload(*packets), 1 << 20);
    SB_FUZZ_CHECK(again.ok());
    SB_FUZZ_CHECK(*again == *packets);
  }
  // A payload over the limit is always refused before decoding.
  if (size > 0) SB_FUZZ_CHECK(!eio::DecodePayload(input, size - 1).ok());

  for (bool binary_frame : {false, true}) {
    auto packet = eio::DecodeWebSocketFrame(input, binary_frame, 1 << 16);
    if (!packet.ok()) continue;
    const eio::WebSocketFrame frame = eio::EncodeWebSocketFrame(*packet);
    auto again = eio::DecodeWebSocketFrame(frame.payload, frame.binary, 1 << 20);
    SB_FUZZ_CHECK(again.ok());
    SB_FUZZ_CHECK(*again == *packet);
  }
  return 0;
}
