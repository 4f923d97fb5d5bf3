#include "services/chat/notification_notifier.h"

#include "sb/common/log.h"
#include "sb/metrics/metrics.h"

namespace sb::chat {

namespace pb = ::switchboard::notification::v1;

namespace {

sb::metrics::CounterFamily& Outcomes() {
  static auto& family = sb::metrics::DefaultRegistry().Counter(
      "sb_chat_offline_notifications_total", "new_message notifications handed to the notification service.",
      {"outcome"});
  return family;
}

}  // namespace

std::string MessagePreview(const Message& message) {
  if (message.type == "image") return "[image]";
  if (message.type != "text") return "";
  constexpr size_t kMax = 100;
  if (message.content.size() <= kMax) return message.content;
  size_t cut = kMax;
  // Step back to the first byte of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(message.content[cut]) & 0xC0) == 0x80) --cut;
  return message.content.substr(0, cut) + "…";
}

NotificationNotifier::NotificationNotifier(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
    : client_(std::move(channel), timeout) {}

NotificationNotifier::~NotificationNotifier() { WaitIdle(absl::Now() + client_.timeout() + absl::Seconds(1)); }

void NotificationNotifier::NewMessage(const std::string& recipient, const Message& message) {
  pb::NewMessageRequest request;
  request.set_recipient_id(recipient);
  request.mutable_sender()->set_id(message.sender_id);
  request.set_conversation_id(message.conversation_id);
  request.set_message_id(message.id);
  request.set_preview(MessagePreview(message));
  client_.Call<pb::NewMessageRequest, pb::NotifyResponse>(
      &pb::NotificationService::Stub::async_interface::NotifyNewMessage, std::move(request),
      [this, recipient, message_id = message.id](const grpc::Status& status, pb::NotifyResponse&) {
        if (status.ok()) {
          sent_.fetch_add(1);
          Outcomes().Labels({"sent"}).Increment();
          return;
        }
        failed_.fetch_add(1);
        Outcomes().Labels({"failed"}).Increment();
        sb::log::Warn("new_message notification failed", {{"recipient", recipient},
                                                           {"message_id", message_id},
                                                           {"code", static_cast<int>(status.error_code())},
                                                           {"error", status.error_message()}});
      });
}

int64_t NotificationNotifier::WaitIdle(absl::Time deadline) const { return client_.WaitIdle(deadline); }

}  // namespace sb::chat
