// NotificationNotifier: chat's OfflineNotifier backed by the notification service. Each offline
// recipient becomes one async NotificationService.NotifyNewMessage call with a deadline; the
// caller (the send path) never waits for it. The notification service dedupes on the message id
// ("new_message:{message id}" per recipient), so a retried send or a retried call never doubles
// a notification. Outcomes are counted in sb_chat_offline_notifications_total{outcome}
// (sent, failed); failures are logged and dropped (the message itself is stored and delivered).
#pragma once

#include <atomic>
#include <memory>

#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "sb/rpc/async_client.h"
#include "services/chat/ports.h"
#include "switchboard/notification/v1/notification.grpc.pb.h"

namespace sb::chat {

class NotificationNotifier : public OfflineNotifier {
 public:
  NotificationNotifier(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  ~NotificationNotifier() override;  // waits (bounded) for calls in flight

  void NewMessage(const std::string& recipient, const Message& message) override;

  // Waits until no call is in flight or `deadline` passes; returns the calls still in flight.
  int64_t WaitIdle(absl::Time deadline) const;
  int64_t sent() const { return sent_.load(); }
  int64_t failed() const { return failed_.load(); }

 private:
  sb::rpc::AsyncClient<switchboard::notification::v1::NotificationService> client_;
  std::atomic<int64_t> sent_{0}, failed_{0};
};

// The preview of a message in its notification: the text (cut at 100 bytes on a UTF-8 boundary,
// with "…"), or "[image]" / "" for other kinds.
std::string MessagePreview(const Message& message);

}  // namespace sb::chat
