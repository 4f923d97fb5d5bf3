// Publisher: puts events on the bus.
//
// User and room events run ONE Lua script each (atomic on the Redis server) that XADDs the
// envelope to a bounded stream (sb:s:u:{user}, MAXLEN ~ max_stream_length, EXPIRE stream_ttl;
// sb:s:r:{room}, MAXLEN ~ room_stream_max_length, EXPIRE room_stream_ttl) and PUBLISHes it, with
// the new stream id as offset, on sb:u:{user} / sb:r:{room}. So an event is in its stream if and
// only if it was published, and the offset a subscriber sees is a stream id ReadStreams resumes
// from. Presence events are publish-only (no stream, no offset).
//
// Offsets: ONE id sequence for every stream. The script takes each new id from the key
// kLastStreamIdKey ("sb:s:last-id", the last id issued): max(Redis TIME in ms, last ms) and a
// sequence number one above the last when the millisecond is the same, then XADDs with that
// explicit id and stores it back. Scripts run one at a time, so ids are unique across all streams
// and increase in the order the PUBLISHes happen; a gateway's one subscriber connection receives
// its channels' messages in that order. A client's single offset (the last event it received)
// therefore splits every stream it reads exactly: everything at or below it was delivered before,
// everything above it was not (no loss, no duplicate when merged by id; see ReadStreams).
// Assumptions, single Redis: all publishers and readers use one Redis primary (not Cluster: the
// script touches keys of different slots), every publisher runs this script (an XADD with '*'
// elsewhere could take an id the sequence later tries to reuse, and that XADD would fail), and
// kLastStreamIdKey is never evicted (it has no TTL; use noeviction or a volatile-* policy). If it
// is lost the sequence restarts at the Redis clock, which is above every earlier id unless the
// clock went back.
//
// Idempotency: an event given an event_id (1..128 bytes of UTF-8, chosen by the caller) is
// delivered at most once per target within dedupe_ttl: the same script, before the XADD, looks
// the target ("u:{user}" / "r:{room}") up in the hash sb:d:{event_id}; when present it returns the
// offset recorded there and publishes nothing, otherwise it records the new offset (the hash
// expires dedupe_ttl after its first write). A caller that retries after a partial failure with
// the same event_id reaches the targets that missed it and never delivers twice to one. The
// envelope's id is then the event_id.
//
// Every call returns InvalidArgument, publishing nothing, for a bad id (see channels.h), an empty
// event name, or a name or payload that is not valid UTF-8 (consumers could not decode it).
// Delivery is at-least-once without an event_id: after a transport error the event may or may not
// have been published; retrying may duplicate it (clients dedupe by event id).
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
  // Room streams only serve short reconnects (connection state recovery): small and short-lived.
  // room_stream_ttl must exceed the gateways' recovery window (see ReadStreams).
  int64_t room_stream_max_length = 200;           // >= 1
  absl::Duration room_stream_ttl = absl::Minutes(10);  // > 0
  absl::Duration dedupe_ttl = absl::Hours(24);    // how long an event_id is remembered, > 0
};

// One event for a list of users (see Publisher::PublishBatch).
struct UserEvent {
  std::vector<std::string> users;
  std::string name;
  std::string payload_json;
  std::string event_id;  // optional idempotency key (see "Idempotency"); empty: none
};

// The result of publishing to a room.
struct RoomPublished {
  std::string offset;     // the event's stream id (the recorded one for a repeated event_id)
  int64_t receivers = 0;  // subscribers (gateway connections) that received it; 0 for a repeat
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
  // Returns one offset per entry of `users` (a user listed twice gets two entries; with an
  // event_id both are the same offset and the user gets it once). Every id is validated first: on
  // InvalidArgument nothing was published. On a transport error some users may already have
  // received it; retry with the same event_id to reach the rest exactly once.
  absl::StatusOr<std::vector<std::string>> PublishToUsers(const std::vector<std::string>& users,
                                                          absl::string_view name,
                                                          absl::string_view payload_json,
                                                          absl::string_view event_id = {});

  // Several events, each as PublishToUsers would send it (its own event id), in the same pipelined
  // batches: one round trip for the few events of one action (e.g. a message to the other
  // participants and the sender's own copy). Validated first: on InvalidArgument nothing was
  // published. Returns the offsets of every (event, user) in order.
  absl::StatusOr<std::vector<std::string>> PublishBatch(const std::vector<UserEvent>& events);

  // Appends to the room's stream sb:s:r:{room} and publishes on sb:r:{room} with the offset.
  absl::StatusOr<RoomPublished> PublishToRoom(absl::string_view room, absl::string_view name,
                                              absl::string_view payload_json, absl::string_view event_id = {});
  // Publish only (no stream, no offset) to sb:p:{user}. Returns how many subscribers received it.
  absl::StatusOr<int64_t> PublishPresence(absl::string_view user, absl::string_view name,
                                          absl::string_view payload_json);

 private:
  Publisher(redis::Client& client, PublisherOptions options);
  // One script invocation: append `envelope` to `stream`, publish on `channel`.
  redis::Script::Invocation Invocation(std::string stream, std::string channel, const std::string& envelope,
                                       bool room, const std::string& dedupe_key, const std::string& target) const;
  absl::Status AddInvocations(const UserEvent& event, std::vector<redis::Script::Invocation>& out) const;
  absl::StatusOr<std::vector<std::string>> RunInvocations(const std::vector<redis::Script::Invocation>& invocations);

  redis::Client* client_;
  PublisherOptions options_;
  redis::Script script_;
};

// The result of reading streams after an offset.
struct StreamRead {
  std::vector<Event> events;  // after the offset, in offset order, each with offset = its stream id
  std::vector<size_t> sources;  // for each event, the index of its stream in the keys read
  // True when nothing after the offset was trimmed from any stream read, i.e. `events` plus later
  // pages are everything published to those streams after the offset. False when events may have
  // been lost: a stream was trimmed (MAXLEN) past the offset, or the offset is above the last id
  // ever issued (kLastStreamIdKey: an offset from another Redis, or one flushed since). A stream
  // that does not exist counts as empty and recoverable: streams expire only their TTL after their
  // last event, so with TTLs above the recovery window a missing stream held nothing the client
  // had not already received.
  bool recoverable = false;
  uint64_t malformed = 0;  // undecodable entries skipped
};

// Up to `limit` (1..10000) events strictly after `after_offset` (a stream id "<ms>-<seq>") from
// the streams `keys` (1..1000 keys from channels.h), merged in offset order (ids are unique across
// streams, see "Offsets"); page by calling again with the last returned offset. The events
// retained after the offset are returned even when `recoverable` is false. One pipelined round
// trip. InvalidArgument for no or too many keys, a bad offset or limit.
absl::StatusOr<StreamRead> ReadStreams(redis::Client& client, const std::vector<std::string>& keys,
                                       absl::string_view after_offset, int limit);

// ReadStreams of the user's stream alone. InvalidArgument also for a bad user id.
absl::StatusOr<StreamRead> ReadUserStream(redis::Client& client, absl::string_view user,
                                          absl::string_view after_offset, int limit);

// Compares two stream ids "<ms>-<seq>" numerically: <0, 0, >0. Unparsable ids sort first.
int CompareStreamIds(absl::string_view a, absl::string_view b);

}  // namespace sb::bus
