// BusSubscriber: decoded bus events from Redis pub/sub, with reference-counted subscriptions.
//
// Many sockets on one gateway may want the same channel (a user with three tabs, a busy room):
// each Subscribe adds a reference, each Unsubscribe drops one; Redis SUBSCRIBE is sent on the first
// reference and UNSUBSCRIBE when the count drops to zero. Reconnection and resubscription after a
// Redis outage are handled by the underlying redis::Subscriber (see sb/redis/subscriber.h); use the
// connect handler to resync (e.g. ReadUserStream) because events published during an outage are
// not delivered. Messages that are not valid envelopes are dropped and counted, never delivered.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/bus/envelope.h"
#include "sb/redis/subscriber.h"

namespace sb::bus {

class BusSubscriber {
 public:
  // Runs on the subscriber thread; see redis::Subscriber for the threading contract.
  using EventHandler = std::function<void(const std::string& channel, const Event& event)>;

  static absl::StatusOr<std::unique_ptr<BusSubscriber>> Create(
      redis::SubscriberOptions options, EventHandler on_event,
      redis::Subscriber::ConnectHandler on_connect = nullptr);
  ~BusSubscriber();  // no handler runs after it returns

  // Adds / drops one reference to `channel` (a name from sb/bus/channels.h). Unsubscribe of a
  // channel with no references does nothing. Thread-safe, never blocks on the network.
  void Subscribe(const std::string& channel);
  void Unsubscribe(const std::string& channel);
  int references(const std::string& channel) const;

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t dropped() const { return dropped_.load(); }  // malformed or unknown-version messages
  bool connected() const { return subscriber_->connected(); }
  uint64_t reconnects() const { return subscriber_->reconnects(); }
  bool WaitUntilSynced(absl::Duration timeout) const { return subscriber_->WaitUntilSynced(timeout); }

 private:
  explicit BusSubscriber(EventHandler on_event) : on_event_(std::move(on_event)) {}
  void OnMessage(const std::string& channel, const std::string& payload);

  const EventHandler on_event_;
  mutable std::mutex mu_;
  std::map<std::string, int> references_;  // guarded by mu_
  std::atomic<uint64_t> delivered_{0}, dropped_{0};
  std::unique_ptr<redis::Subscriber> subscriber_;
};

}  // namespace sb::bus
