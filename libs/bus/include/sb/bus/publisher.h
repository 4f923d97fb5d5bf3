// Publisher: puts events on the bus.
//
// PublishToUser runs ONE Lua script (atomic on the Redis server) that XADDs the envelope to the
// user's bounded stream sb:s:u:{user} (MAXLEN ~ max_stream_length; EXPIRE stream_ttl so idle
// users' streams vanish) and PUBLISHes it, with the new stream id as offset, to sb:u:{user}. So an
// event is in the stream if and only if it was published, and the offset a subscriber sees is the
// stream id a later ReadUserStream resumes from. Room and presence events are publish-only.
//
// Every call returns InvalidArgument, publishing nothing, for a bad id (see channels.h), an empty
// event name, or a name or payload that is not valid UTF-8 (consumers could not decode it).
// Delivery is at-least-once: after a transport error the event may or may not have been
// published; retrying may duplicate it (clients dedupe by event id).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sb/bus/envelope.h"
#include "sb/redis/client.h"
#include "sb/redis/script.h"

namespace sb::bus {

struct PublisherOptions {
  std::string origin;                       // e.g. "chat/chat-7d9f"; copied into every envelope
  int64_t max_stream_length = 1000;         // per-user stream bound, >= 1
  bool exact_trim = false;                  // false: MAXLEN ~ (cheap; may keep up to ~100 more)
  absl::Duration stream_ttl = absl::Hours(24);  // refreshed on every publish; zero: never expires
};

// One event for a list of users (see Publisher::PublishBatch).
struct UserEvent {
  std::vector<std::string> users;
  std::string name;
  std::string payload_json;
};

class Publisher {
 public:
  // InvalidArgument for bad options. `client` must outlive the publisher.
  static absl::StatusOr<Publisher> Create(redis::Client& client, PublisherOptions options);

  // Appends to the user's stream and publishes on the user's channel; returns the offset (stream
  // id, e.g. "1700000000000-0").
  absl::StatusOr<std::string> PublishToUser(absl::string_view user, absl::string_view name,
                                            absl::string_view payload_json);

  // The same event (one event id, so clients can dedupe) to many users, pipelined in batches.
  // Returns one offset per entry of `users` (a user listed twice gets two entries). Every id is
  // validated first: on InvalidArgument nothing was published. On a transport error some users
  // may already have received it.
  absl::StatusOr<std::vector<std::string>> PublishToUsers(const std::vector<std::string>& users,
                                                          absl::string_view name,
                                                          absl::string_view payload_json);

  // Several events, each as PublishToUsers would send it (its own event id), in the same pipelined
  // batches: one round trip for the few events of one action (e.g. a message to the other
  // participants and the sender's own copy). Validated first: on InvalidArgument nothing was
  // published. Returns the offsets of every (event, user) in order.
  absl::StatusOr<std::vector<std::string>> PublishBatch(const std::vector<UserEvent>& events);

  // Publish only (no stream, no offset) to sb:r:{room} / sb:p:{user}. Returns how many
  // subscribers (gateway connections) received it.
  absl::StatusOr<int64_t> PublishToRoom(absl::string_view room, absl::string_view name,
                                        absl::string_view payload_json);
  absl::StatusOr<int64_t> PublishPresence(absl::string_view user, absl::string_view name,
                                          absl::string_view payload_json);

 private:
  Publisher(redis::Client& client, PublisherOptions options);
  std::vector<std::string> ScriptArgs(const std::string& envelope) const;
  absl::Status AddInvocations(const UserEvent& event, std::vector<redis::Script::Invocation>& out) const;
  absl::StatusOr<std::vector<std::string>> RunInvocations(const std::vector<redis::Script::Invocation>& invocations);

  redis::Client* client_;
  PublisherOptions options_;
  redis::Script script_;
};

// The result of reading a user's stream.
struct StreamRead {
  std::vector<Event> events;  // after the offset, oldest first, each with offset = its stream id
  // True when nothing after the offset was trimmed (or expired), i.e. `events` plus later pages
  // are everything the user missed. False when events may have been lost: the stream is gone,
  // its oldest retained id is newer than the successor of the offset, or the offset is newer than
  // any id the stream ever generated (a stream re-created after expiry or a Redis flush).
  bool recoverable = false;
  uint64_t malformed = 0;  // undecodable entries skipped
};

// Up to `limit` (1..10000) events of the user's stream strictly after `after_offset` (a stream id
// "<ms>-<seq>"); page by calling again with the last returned offset. The events retained after
// the offset are returned even when `recoverable` is false. InvalidArgument for a bad user id,
// offset or limit.
absl::StatusOr<StreamRead> ReadUserStream(redis::Client& client, absl::string_view user,
                                          absl::string_view after_offset, int limit);

}  // namespace sb::bus
