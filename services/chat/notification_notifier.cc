#include "services/chat/notification_notifier.h"

#include "sb/common/log.h"
#include "sb/metrics/metrics.h"
#include "sb/rpc/client.h"

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
    : stub_(pb::NotificationService::NewStub(std::move(channel))), timeout_(timeout) {}

NotificationNotifier::~NotificationNotifier() { WaitIdle(absl::Now() + timeout_ + absl::Seconds(1)); }

void NotificationNotifier::NewMessage(const std::string& recipient, const Message& message) {
  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    pb::NewMessageRequest request;
    pb::NotifyResponse response;
  };
  auto call = std::make_shared<Call>();
  call->context = sb::rpc::NewCallContext(timeout_);
  call->request.set_recipient_id(recipient);
  call->request.mutable_sender()->set_id(message.sender_id);
  call->request.set_conversation_id(message.conversation_id);
  call->request.set_message_id(message.id);
  call->request.set_preview(MessagePreview(message));
  in_flight_.fetch_add(1);
  stub_->async()->NotifyNewMessage(call->context.get(), &call->request, &call->response,
                                   [this, call](grpc::Status status) {
                                     if (status.ok()) {
                                       sent_.fetch_add(1);
                                       Outcomes().Labels({"sent"}).Increment();
                                     } else {
                                       failed_.fetch_add(1);
                                       Outcomes().Labels({"failed"}).Increment();
                                       sb::log::Warn("new_message notification failed",
                                                     {{"recipient", call->request.recipient_id()},
                                                      {"message_id", call->request.message_id()},
                                                      {"code", static_cast<int>(status.error_code())},
                                                      {"error", status.error_message()}});
                                     }
                                     in_flight_.fetch_sub(1);
                                   });
}

int64_t NotificationNotifier::WaitIdle(absl::Time deadline) const {
  while (in_flight_.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  return in_flight_.load();
}

}  // namespace sb::chat
