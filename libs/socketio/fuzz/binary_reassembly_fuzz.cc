// Reassembler: feeds a sequence of text/binary messages and checks that completed packets are
// always valid and within limits, and that the state machine never gets stuck.
//
// Input format: repeated [kind byte][length byte][length bytes]; an even kind is a text message,
// an odd kind a binary message. A truncated last record uses what is left.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "sb/socketio/reassembler.h"

namespace sio = sb::socketio::sio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sio::DecodeOptions options;
  options.max_attachments = 4;
  options.max_attachment_bytes = 64;
  sio::Reassembler reassembler(options);

  size_t pos = 0;
  while (pos + 2 <= size) {
    const bool binary = (data[pos] & 1) != 0;
    const size_t len = std::min<size_t>(data[pos + 1], size - pos - 2);
    std::string message(reinterpret_cast<const char*>(data + pos + 2), len);
    pos += 2 + len;

    const bool was_pending = reassembler.awaiting_binary();
    const size_t missing_before = reassembler.missing_attachments();
    auto result = binary ? reassembler.AddBinary(message) : reassembler.AddText(message);
    if (!result.ok()) {
      SB_FUZZ_CHECK(!reassembler.awaiting_binary());
      continue;
    }
    if (!result->has_value()) {
      SB_FUZZ_CHECK(reassembler.awaiting_binary());
      SB_FUZZ_CHECK(reassembler.missing_attachments() > 0);
      if (was_pending) SB_FUZZ_CHECK(reassembler.missing_attachments() == missing_before - 1);
      continue;
    }
    SB_FUZZ_CHECK(!reassembler.awaiting_binary());
    const sio::Packet& packet = **result;
    SB_FUZZ_CHECK(sio::ValidatePacket(packet).ok());
    SB_FUZZ_CHECK(packet.attachments.size() <= options.max_attachments);
    size_t total = 0;
    for (const auto& a : packet.attachments) total += a.size();
    SB_FUZZ_CHECK(total <= options.max_attachment_bytes);
    SB_FUZZ_CHECK(sio::EncodeHeader(packet).ok());
  }
  return 0;
}
