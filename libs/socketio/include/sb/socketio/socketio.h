// Socket.IO v5 packets (socket.io.dev "socket.io-protocol"), carried in Engine.IO MESSAGE packets.
//
// Text encoding:
//   <type digit>[<attachment count>-][<namespace>,][<ack id>][<JSON data>]
//   e.g. 2["message","hi"]   2/custom,17["x",1]   51-["b",{"_placeholder":true,"num":0}]
// BINARY_EVENT / BINARY_ACK are followed by exactly <attachment count> binary Engine.IO messages.
//
// Binary data model (used by decoded packets AND by packets the server builds):
//   Packet::data is a boost::json::value in which every binary buffer is the placeholder object
//   {"_placeholder":true,"num":N}, and Packet::attachments[N] holds that buffer's bytes. Only
//   binary packets (kBinaryEvent / kBinaryAck) have attachments; in them every attachment is
//   referenced by exactly one placeholder, and every placeholder has an integer num in
//   [0, attachments.size()). In any other packet a placeholder-shaped object is plain JSON data and
//   never a buffer (socket.io-parser placeholder-injection advisory): ResolvePlaceholder() returns
//   nullptr for it. Relaying a decoded binary event unchanged therefore re-encodes to the same wire
//   shape; to build one from scratch, use AddBuffer() to insert placeholders, then MakeEvent().
//
// All functions are pure. Decoders never crash; they return InvalidArgument for malformed input,
// ResourceExhausted for exceeded limits and FailedPrecondition for out-of-order frames.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sb/socketio/engineio.h"

namespace sb::socketio::sio {

enum class PacketType : uint8_t {
  kConnect = 0,
  kDisconnect = 1,
  kEvent = 2,
  kAck = 3,
  kConnectError = 4,
  kBinaryEvent = 5,
  kBinaryAck = 6,
};

std::string_view PacketTypeName(PacketType type);
bool IsBinaryType(PacketType type);

// Largest ack id accepted or produced: Number.MAX_SAFE_INTEGER, the largest id a JS peer holds exactly.
inline constexpr uint64_t kMaxAckId = 9'007'199'254'740'991ULL;

struct Packet {
  PacketType type = PacketType::kEvent;
  std::string nsp = "/";                    // starts with "/", never contains ','
  std::optional<uint64_t> id;               // ack id
  std::optional<boost::json::value> data;   // absent: no payload at all
  std::vector<std::string> attachments;     // binary types only; see the data model above

  friend bool operator==(const Packet&, const Packet&) = default;
};

struct DecodeOptions {
  // Largest attachment count a binary packet may announce. Unbounded counts and unchecked
  // placeholders are the subject of the socket.io-parser advisories (CVE-2022-2421,
  // CVE-2023-32695); the reference decoder now has the same kind of limit.
  size_t max_attachments = 10;
  // Largest total size of a binary packet's attachments (Reassembler only).
  size_t max_attachment_bytes = 10'000'000;
  // Deepest JSON nesting accepted in data; bounds recursion in every later walk of the tree.
  size_t max_json_depth = 32;
};

// The text part of a packet. For binary types `packet.attachments` is still empty and
// `attachment_count` binary messages must follow (see Reassembler).
struct DecodedHeader {
  Packet packet;
  size_t attachment_count = 0;
};

// Decodes one text Engine.IO message as a Socket.IO packet, strictly:
//  - type digit 0..6; binary types need "<count>-" with count <= max_attachments (else
//    ResourceExhausted);
//  - namespace, if present, starts with "/", ends at ',' or end of input, valid UTF-8, no control
//    characters;
//  - ack id: decimal digits, <= kMaxAckId; required on ACK/BINARY_ACK, forbidden on CONNECT,
//    DISCONNECT and CONNECT_ERROR;
//  - data: valid JSON (UTF-8, nothing after it but whitespace, nesting <= max_json_depth, no
//    number that overflows a double, e.g. 1e400, which would re-serialize as invalid JSON), shaped
//    per type: CONNECT object or absent; DISCONNECT absent; EVENT/BINARY_EVENT non-empty array whose
//    first element is a string event name that is not reserved ("connect", "connect_error",
//    "disconnect", "disconnecting", "newListener", "removeListener"); ACK/BINARY_ACK array;
//    CONNECT_ERROR object;
//  - binary types: placeholders as in the data model above, checked against attachment_count.
absl::StatusOr<DecodedHeader> DecodeHeader(std::string_view text, const DecodeOptions& options = {});

// Checks that `packet` satisfies every rule DecodeHeader enforces, with attachment_count =
// packet.attachments.size() and no attachment-count limit. OK means EncodeHeader will succeed and
// DecodeHeader of its output gives `packet` back.
absl::Status ValidatePacket(const Packet& packet);

// The text part of `packet`, after ValidatePacket. Attachments are not included: send them as
// binary messages after it (or use EncodeToEngineIo).
absl::StatusOr<std::string> EncodeHeader(const Packet& packet);

// The Engine.IO messages to send for `packet`: the text header, then one binary message per
// attachment, in order. This is the wire shape socket.io-client expects.
absl::StatusOr<std::vector<eio::Packet>> EncodeToEngineIo(Packet packet);

// ---- Binary helpers -----------------------------------------------------------------------------

// Appends `bytes` to `buffers` and returns the placeholder {"_placeholder":true,"num":N} to put in
// the data tree where the buffer goes.
boost::json::value AddBuffer(std::vector<std::string>& buffers, std::string bytes);

// True for an object whose "_placeholder" member is the boolean true (the reference parser's test).
bool IsPlaceholder(const boost::json::value& value);

// The attachment `value` stands for, or nullptr when `value` is not a placeholder, `packet` is not a
// binary packet, or num is out of range. Never treats plain-packet data as binary.
const std::string* ResolvePlaceholder(const Packet& packet, const boost::json::value& value);

// ---- Builders for what the server sends ---------------------------------------------------------

// EVENT, or BINARY_EVENT when `buffers` is non-empty (args then reference them via AddBuffer
// placeholders). Fails (InvalidArgument) on a reserved event name, an invalid namespace,
// an ack id over kMaxAckId, or placeholders that do not reference every buffer exactly once
// (which also catches placeholder-shaped objects copied from untrusted plain-packet data).
absl::StatusOr<Packet> MakeEvent(std::string nsp, std::string_view event, boost::json::array args,
                                 std::vector<std::string> buffers = {},
                                 std::optional<uint64_t> ack_id = std::nullopt);

// ACK, or BINARY_ACK when `buffers` is non-empty; same rules as MakeEvent.
absl::StatusOr<Packet> MakeAck(std::string nsp, uint64_t ack_id, boost::json::array args,
                               std::vector<std::string> buffers = {});

// CONNECT reply: {"sid":"<sid>"} in `nsp`.
Packet MakeConnect(std::string nsp, std::string_view sid);

// CONNECT_ERROR: {"message":"<message>"} plus "data" when given; socket.io-client raises it as an
// Error with that message (and .data).
Packet MakeConnectError(std::string nsp, std::string_view message,
                        std::optional<boost::json::value> data = std::nullopt);

// DISCONNECT of `nsp` (no payload).
Packet MakeDisconnect(std::string nsp);

// ---- Accessors for decoded events ---------------------------------------------------------------

// The event name of an EVENT/BINARY_EVENT that passed validation; "" for any other packet.
std::string_view EventName(const Packet& packet);

// The arguments after the event name (EVENT/BINARY_EVENT) or the ack arguments (ACK/BINARY_ACK);
// empty for any other packet. Valid while `packet` is alive and unchanged.
std::span<const boost::json::value> Args(const Packet& packet);

}  // namespace sb::socketio::sio
