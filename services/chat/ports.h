// What the chat domain needs from the outside, as small interfaces (tests substitute fakes):
//   EventSink        events to users' channels (production: the Redis bus, Publisher::PublishToUsers)
//   PresenceReader   which users have a live session (production: PUBSUB NUMSUB of their bus
//                    channels, which gateways hold while they have a socket of the user; later the
//                    presence service)
//   OfflineNotifier  the notification service's new_message (until it exists: log + count)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/chat/model.h"

namespace sb::chat {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Delivers `event` with one JSON argument to every socket of every user in `users`.
  virtual absl::Status PublishToUsers(const std::vector<std::string>& users, const std::string& event,
                                      const std::string& payload_json) = 0;

  struct Delivery {
    std::vector<std::string> users;
    std::string event;
    std::string payload_json;
  };
  // Several deliveries of one action; the bus sends them in one round trip. By default one
  // PublishToUsers each (stops at the first failure).
  virtual absl::Status PublishBatch(const std::vector<Delivery>& deliveries) {
    for (const auto& d : deliveries) {
      if (d.users.empty()) continue;
      if (absl::Status s = PublishToUsers(d.users, d.event, d.payload_json); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
};

class PresenceReader {
 public:
  virtual ~PresenceReader() = default;
  // One flag per entry of `users`: true when the user has at least one live session.
  virtual absl::StatusOr<std::vector<bool>> AreOnline(const std::vector<std::string>& users) = 0;
};

class OfflineNotifier {
 public:
  virtual ~OfflineNotifier() = default;
  // `recipient` has no live session and the conversation is not muted for them.
  virtual void NewMessage(const std::string& recipient, const Message& message) = 0;
};

// Until the notification service is wired: one log line per notification, and a count.
class LoggingNotifier : public OfflineNotifier {
 public:
  void NewMessage(const std::string& recipient, const Message& message) override;
  int64_t count() const { return count_.load(); }

 private:
  std::atomic<int64_t> count_{0};
};

}  // namespace sb::chat
