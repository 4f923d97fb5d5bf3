#include "sb/socketio/reassembler.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sb::socketio::sio {

size_t Reassembler::missing_attachments() const {
  if (!pending_) return 0;
  return pending_->attachment_count - pending_->packet.attachments.size();
}

void Reassembler::Reset() {
  pending_.reset();
  pending_bytes_ = 0;
}

absl::StatusOr<std::optional<Packet>> Reassembler::AddText(std::string_view text) {
  if (pending_) {
    const size_t missing = missing_attachments();
    Reset();
    return absl::FailedPreconditionError(absl::StrCat(
        "socket.io: text packet received while ", missing, " binary attachment(s) were expected"));
  }
  auto header = DecodeHeader(text, options_);
  if (!header.ok()) return header.status();
  if (header->attachment_count == 0) return std::optional<Packet>(std::move(header->packet));
  header->packet.attachments.reserve(header->attachment_count);
  pending_ = std::move(*header);
  pending_bytes_ = 0;
  return std::optional<Packet>();
}

absl::StatusOr<std::optional<Packet>> Reassembler::AddBinary(std::string bytes) {
  if (!pending_) {
    return absl::FailedPreconditionError("socket.io: binary message received with no binary packet pending");
  }
  if (bytes.size() > options_.max_attachment_bytes - pending_bytes_) {
    Reset();
    return absl::ResourceExhaustedError(absl::StrCat(
        "socket.io: binary attachments exceed ", options_.max_attachment_bytes, " bytes"));
  }
  pending_bytes_ += bytes.size();
  pending_->packet.attachments.push_back(std::move(bytes));
  if (pending_->packet.attachments.size() < pending_->attachment_count) return std::optional<Packet>();
  Packet done = std::move(pending_->packet);
  Reset();
  return std::optional<Packet>(std::move(done));
}

absl::StatusOr<std::optional<Packet>> Reassembler::Add(eio::Packet message) {
  if (message.type != eio::PacketType::kMessage) {
    return absl::FailedPreconditionError(absl::StrCat("socket.io: engine.io ",
                                                      std::string(eio::PacketTypeName(message.type)),
                                                      " packet carries no socket.io data"));
  }
  if (message.binary) return AddBinary(std::move(message.data));
  return AddText(message.data);
}

}  // namespace sb::socketio::sio
