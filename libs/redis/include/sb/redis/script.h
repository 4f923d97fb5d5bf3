// Script: a Lua script run by SHA1 with EVALSHA, falling back to EVAL when the server does not know
// it (NOSCRIPT: after SCRIPT FLUSH or a Redis restart emptied the script cache). EVAL also caches
// the script again, so the next EVALSHA succeeds. Immutable and thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sb/redis/client.h"
#include "sb/redis/reply.h"

namespace sb::redis {

class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }  // lower-case hex, as SCRIPT LOAD returns it

  // EVALSHA sha numkeys keys... args...; the script's error reply becomes a Status (see
  // ErrorReplyToStatus), other failures as in Client::Command.
  absl::StatusOr<Reply> Run(Client& client, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args) const;

  struct Invocation {
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  // Runs many invocations in one pipeline (those that hit NOSCRIPT are re-sent with EVAL in a
  // second pipeline). One reply per invocation, in order; script errors stay Reply kError as in
  // Client::Pipeline.
  absl::StatusOr<std::vector<Reply>> RunPipelined(Client& client,
                                                  const std::vector<Invocation>& invocations) const;

 private:
  std::vector<std::string> Command(const char* verb, const std::string& script_or_sha,
                                   const Invocation& invocation) const;

  std::string source_;
  std::string sha1_;
};

}  // namespace sb::redis
