#include "sb/bus/liveness.h"

#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"
#include "sb/common/status.h"

namespace sb::bus {

namespace {
constexpr size_t kChannelsPerCommand = 1000;
}  // namespace

absl::StatusOr<std::vector<bool>> UsersWithLiveSessions(redis::Client& redis, const std::vector<std::string>& users) {
  std::vector<bool> live;
  live.reserve(users.size());
  if (users.empty()) return live;
  std::vector<std::vector<std::string>> commands;
  for (size_t begin = 0; begin < users.size(); begin += kChannelsPerCommand) {
    std::vector<std::string> command{"PUBSUB", "NUMSUB"};
    for (size_t i = begin; i < std::min(users.size(), begin + kChannelsPerCommand); ++i) {
      SB_ASSIGN_OR_RETURN(std::string channel, UserChannel(users[i]));
      command.push_back(std::move(channel));
    }
    commands.push_back(std::move(command));
  }
  SB_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis.Pipeline(std::move(commands)));
  size_t next = 0;
  for (const redis::Reply& reply : replies) {
    if (reply.is_error()) return redis::ErrorReplyToStatus(reply.str);
    const size_t expected = std::min(kChannelsPerCommand, users.size() - next);
    // The reply is [channel, count, channel, count, ...] in the order asked.
    if (!reply.is_array() || reply.elements.size() != expected * 2) {
      return absl::InternalError(absl::StrCat("PUBSUB NUMSUB: unexpected reply ", redis::DebugString(reply)));
    }
    for (size_t i = 0; i < expected; ++i) live.push_back(reply.elements[2 * i + 1].integer > 0);
    next += expected;
  }
  return live;
}

}  // namespace sb::bus
