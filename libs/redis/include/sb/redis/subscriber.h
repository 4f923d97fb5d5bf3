// Subscriber: one dedicated Redis connection, on its own thread, for SUBSCRIBE / PSUBSCRIBE.
//
// The subscriber keeps the set of channels and patterns it SHOULD be subscribed to. Subscribe /
// Unsubscribe (any thread, never blocking on the network) only change that set and wake the
// thread, which sends the difference to Redis. How the thread stays responsive: it never blocks in
// a hiredis read. It poll()s the socket together with an eventfd that every change (and shutdown)
// writes to, and reads from the socket only when poll says data is there, then decodes every
// complete reply already buffered. So changes are applied within microseconds even when no
// message arrives.
//
// Connection loss (EOF, I/O error, or no answer to a PING sent after `ping_interval` of silence
// within `io_timeout`) closes the connection; the thread reconnects with exponential backoff
// (from `backoff_initial`, doubling, capped at `backoff_max`, each wait randomized to 50-100% of
// the step) and re-subscribes EVERYTHING in the wanted set. Messages published while
// disconnected are lost (Redis pub/sub has no memory); owners that need them resync in the
// connect handler, which runs once every wanted subscription has been confirmed by the server.
//
// Delivery: the message handler runs on the subscriber thread, one message at a time, in the
// order Redis sent them. Messages of a channel are delivered only while it is in the wanted set,
// so none arrive after Unsubscribe() returns (a handler already running may finish). Handlers
// may call Subscribe/Unsubscribe but should not block for long: they stall all delivery.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/redis/url.h"

namespace sb::redis {

struct SubscriberOptions {
  std::string url = "redis://127.0.0.1:6379";
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration io_timeout = absl::Seconds(2);       // socket write timeout and PING deadline
  absl::Duration ping_interval = absl::Seconds(5);    // PING after this much silence
  absl::Duration backoff_initial = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(2);
};

class Subscriber {
 public:
  // channel is the concrete channel (also for pattern subscriptions); payload is binary safe.
  using MessageHandler = std::function<void(const std::string& channel, const std::string& payload)>;
  // Runs on the subscriber thread after each (re)connection once all wanted subscriptions are
  // confirmed; `reconnect` is false for the first connection.
  using ConnectHandler = std::function<void(bool reconnect)>;

  // Starts the thread, which connects in the background (Create succeeds while Redis is down).
  // InvalidArgument for a bad URL or a null message handler.
  static absl::StatusOr<std::unique_ptr<Subscriber>> Create(SubscriberOptions options,
                                                            MessageHandler on_message,
                                                            ConnectHandler on_connect = nullptr);
  // Stops and joins the thread; no handler runs after it returns.
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Idempotent set operations on the wanted channels / patterns; never block on the network.
  void Subscribe(const std::string& channel);
  void Unsubscribe(const std::string& channel);
  void PSubscribe(const std::string& pattern);
  void PUnsubscribe(const std::string& pattern);

  // Connected to Redis right now.
  bool connected() const;
  // Successful connections after the first one.
  uint64_t reconnects() const { return reconnects_.load(); }
  // Waits until connected and Redis confirmed exactly the wanted channels and patterns; false on
  // timeout. Lets callers (and tests) know a PUBLISH from now on will be received.
  bool WaitUntilSynced(absl::Duration timeout) const;

 private:
  Subscriber(SubscriberOptions options, Endpoint endpoint, MessageHandler on_message,
             ConnectHandler on_connect, int wake_fd);
  class Session;  // one connection's lifetime, in subscriber.cc

  void Run();
  void Wake();
  void SleepInterruptibly(absl::Duration d);
  bool SyncedLocked() const;

  const SubscriberOptions options_;
  const Endpoint endpoint_;
  const MessageHandler on_message_;
  const ConnectHandler on_connect_;
  const int wake_fd_;  // eventfd

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::set<std::string> wanted_channels_, wanted_patterns_;        // guarded by mu_
  std::set<std::string> confirmed_channels_, confirmed_patterns_;  // guarded by mu_
  bool connected_ = false;                                         // guarded by mu_

  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::thread thread_;
};

}  // namespace sb::redis
