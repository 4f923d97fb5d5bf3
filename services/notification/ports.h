// What the notification domain needs from the outside, as small interfaces (tests substitute fakes):
//   EventSink         events to users' devices (production: the Redis bus Publisher)
//   SessionDirectory  which users have a live session (production: the presence service, with the
//                     bus fallback sb::bus::UsersWithLiveSessions when presence is absent or fails)
//   PushSink          push requests for offline recipients (until the push service exists: a log
//                     line and a metric per request, LoggingPushSink)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/notification/model.h"

namespace sb::notification {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // `event` with one JSON argument to every device of `user`.
  virtual absl::Status PublishToUser(const std::string& user, const std::string& event,
                                     const std::string& payload_json) = 0;
  // The same event and payload to every user in `users` (pipelined).
  virtual absl::Status PublishToUsers(const std::vector<std::string>& users, const std::string& event,
                                      const std::string& payload_json) = 0;
  struct Delivery {
    std::string user;
    std::string event;
    std::string payload_json;
  };
  // Several events, in order (one user's events arrive in list order), pipelined in as few round
  // trips as the sink can. Returns the first error; entries after a failure may or may not have
  // been published. The default publishes them one by one.
  virtual absl::Status PublishAll(const std::vector<Delivery>& deliveries) {
    absl::Status first;
    for (const auto& d : deliveries) {
      absl::Status s = PublishToUser(d.user, d.event, d.payload_json);
      if (first.ok()) first = s;
    }
    return first;
  }
};

class SessionDirectory {
 public:
  virtual ~SessionDirectory() = default;
  // One flag per entry of `users`: true when the user has at least one live session.
  virtual absl::StatusOr<std::vector<bool>> HaveLiveSessions(const std::vector<std::string>& users) = 0;
};

struct PushRequest {
  std::string recipient_id;
  Notification notification;
};

class PushSink {
 public:
  virtual ~PushSink() = default;
  // Hands the request over; never blocks for long (the push service will queue it).
  virtual void Push(const PushRequest& request) = 0;
};

// Until the push service exists: one log line per request, and a count.
class LoggingPushSink : public PushSink {
 public:
  void Push(const PushRequest& request) override;
  int64_t count() const { return count_.load(); }

 private:
  std::atomic<int64_t> count_{0};
};

}  // namespace sb::notification
