#include "sb/redis/script.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "sb/common/status.h"

namespace sb::redis {
namespace {

std::string Sha1Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

bool IsNoScript(const Reply& reply) { return reply.is_error() && absl::StartsWith(reply.str, "NOSCRIPT"); }

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

std::vector<std::string> Script::Command(const char* verb, const std::string& script_or_sha,
                                         const Invocation& invocation) const {
  std::vector<std::string> command;
  command.reserve(3 + invocation.keys.size() + invocation.args.size());
  command.push_back(verb);
  command.push_back(script_or_sha);
  command.push_back(std::to_string(invocation.keys.size()));
  command.insert(command.end(), invocation.keys.begin(), invocation.keys.end());
  command.insert(command.end(), invocation.args.begin(), invocation.args.end());
  return command;
}

absl::StatusOr<Reply> Script::Run(Client& client, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) const {
  SB_ASSIGN_OR_RETURN(std::vector<Reply> replies, RunPipelined(client, {Invocation{keys, args}}));
  Reply& reply = replies.front();
  if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  return std::move(reply);
}

absl::StatusOr<std::vector<Reply>> Script::RunPipelined(Client& client,
                                                        const std::vector<Invocation>& invocations) const {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(invocations.size());
  for (const Invocation& invocation : invocations) commands.push_back(Command("EVALSHA", sha1_, invocation));
  SB_ASSIGN_OR_RETURN(std::vector<Reply> replies, client.Pipeline(std::move(commands)));

  // NOSCRIPT means the script did not run at all, so re-sending it with its source is safe.
  std::vector<size_t> missing;
  std::vector<std::vector<std::string>> retries;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (IsNoScript(replies[i])) {
      missing.push_back(i);
      retries.push_back(Command("EVAL", source_, invocations[i]));
    }
  }
  if (!retries.empty()) {
    SB_ASSIGN_OR_RETURN(std::vector<Reply> retried, client.Pipeline(std::move(retries)));
    for (size_t j = 0; j < missing.size(); ++j) replies[missing[j]] = std::move(retried[j]);
  }
  return replies;
}

}  // namespace sb::redis
