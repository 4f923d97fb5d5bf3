// "Does this user have a live session?" from the bus alone: gateways subscribe a user's channel
// sb:u:{user} while they hold at least one socket of that user and unsubscribe when the last one
// goes, so PUBSUB NUMSUB of the channel is > 0 exactly while some gateway has a socket of the user.
// The fallback for services when the presence service is absent or failing (chat, notification).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sb/redis/client.h"

namespace sb::bus {

// One flag per entry of `users`, in order: true when some gateway is subscribed to the user's
// channel. Asks in pipelined PUBSUB NUMSUB commands of up to 1,000 channels. InvalidArgument for a
// bad user id (see channels.h); the Redis error otherwise.
absl::StatusOr<std::vector<bool>> UsersWithLiveSessions(redis::Client& redis, const std::vector<std::string>& users);

}  // namespace sb::bus
