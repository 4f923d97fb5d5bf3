#include "sb/bus/subscriber.h"

#include "sb/common/log.h"
#include "sb/common/status.h"

namespace sb::bus {

absl::StatusOr<std::unique_ptr<BusSubscriber>> BusSubscriber::Create(
    redis::SubscriberOptions options, EventHandler on_event, redis::Subscriber::ConnectHandler on_connect) {
  if (!on_event) return absl::InvalidArgumentError("bus: an event handler is required");
  std::unique_ptr<BusSubscriber> bus(new BusSubscriber(std::move(on_event)));
  BusSubscriber* self = bus.get();
  SB_ASSIGN_OR_RETURN(
      bus->subscriber_,
      redis::Subscriber::Create(
          std::move(options),
          [self](const std::string& channel, const std::string& payload) { self->OnMessage(channel, payload); },
          std::move(on_connect)));
  return bus;
}

BusSubscriber::~BusSubscriber() {
  // Join the subscriber thread before members its handler uses are destroyed.
  subscriber_.reset();
}

void BusSubscriber::Subscribe(const std::string& channel) {
  std::lock_guard<std::mutex> lock(mu_);
  // Under the lock so that concurrent first-subscribe / last-unsubscribe reach Redis in order.
  if (++references_[channel] == 1) subscriber_->Subscribe(channel);
}

void BusSubscriber::Unsubscribe(const std::string& channel) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = references_.find(channel);
  if (it == references_.end()) return;
  if (--it->second == 0) {
    references_.erase(it);
    subscriber_->Unsubscribe(channel);
  }
}

int BusSubscriber::references(const std::string& channel) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = references_.find(channel);
  return it == references_.end() ? 0 : it->second;
}

void BusSubscriber::OnMessage(const std::string& channel, const std::string& payload) {
  auto event = DecodeEvent(payload);
  if (!event.ok()) {
    // Anyone with access to Redis can publish; a bad message must never reach clients or crash us.
    dropped_.fetch_add(1);
    sb::log::Warn("bus: dropped a malformed message",
                  {{"channel", channel}, {"bytes", payload.size()}, {"error", event.status().ToString()}});
    return;
  }
  delivered_.fetch_add(1);
  on_event_(channel, *event);
}

}  // namespace sb::bus
