#include "sb/rpc/client.h"

#include "sb/rpc/process.h"

#include <algorithm>
#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/time/clock.h"
#include "sb/common/log.h"
#include "sb/rpc/interceptor.h"
#include "sb/rpc/status.h"

namespace sb::rpc {
namespace {

// Protobuf JSON duration: decimal seconds with an "s" suffix, e.g. "0.1s".
std::string JsonDuration(absl::Duration d) {
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), absl::ToDoubleSeconds(d), std::chars_format::fixed, 9);
  std::string out(buf, result.ptr);
  // Trim trailing zeros (keep at least one digit after the point).
  while (out.size() > 2 && out.back() == '0' && out[out.size() - 2] != '.') out.pop_back();
  return out + "s";
}

absl::StatusOr<boost::json::object> MethodName(const std::string& name) {
  std::string s = name;
  if (!s.empty() && s.front() == '/') s.erase(0, 1);
  size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size() ||
      s.find('/', slash + 1) != std::string::npos) {
    return absl::InvalidArgumentError("idempotent method \"" + name +
                                      "\" must look like /pkg.Service/Method or pkg.Service/*");
  }
  boost::json::object out{{"service", s.substr(0, slash)}};
  std::string method = s.substr(slash + 1);
  if (method != "*") out["method"] = method;  // no "method" key = every method of the service
  return out;
}

int Millis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, INT32_MAX));
}

}  // namespace

absl::StatusOr<std::string> ServiceConfigJson(const ClientOptions& options) {
  // round_robin: a target resolving to several backends (a headless Kubernetes service) spreads
  // calls over all of them instead of pinning the first (pick_first, gRPC's default).
  boost::json::object config{{"loadBalancingConfig", boost::json::array{boost::json::object{{"round_robin", boost::json::object{}}}}}};
  if (options.idempotent_methods.empty()) return boost::json::serialize(config);
  const RetryPolicy& retry = options.retry;
  if (retry.max_attempts < 2) return absl::InvalidArgumentError("retry max_attempts must be >= 2");
  if (retry.initial_backoff <= absl::ZeroDuration() || retry.max_backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retry backoffs must be positive");
  }
  if (retry.backoff_multiplier <= 0) return absl::InvalidArgumentError("retry backoff_multiplier must be positive");
  if (retry.retryable_codes.empty()) return absl::InvalidArgumentError("retry needs at least one retryable code");

  boost::json::array names;
  for (const auto& method : options.idempotent_methods) {
    auto name = MethodName(method);
    if (!name.ok()) return name.status();
    names.push_back(std::move(*name));
  }
  boost::json::array codes;
  for (grpc::StatusCode code : retry.retryable_codes) codes.push_back(boost::json::string(CodeName(code)));
  boost::json::object policy{
      {"maxAttempts", retry.max_attempts},
      {"initialBackoff", JsonDuration(retry.initial_backoff)},
      {"maxBackoff", JsonDuration(retry.max_backoff)},
      {"backoffMultiplier", retry.backoff_multiplier},
      {"retryableStatusCodes", std::move(codes)},
  };
  config["methodConfig"] =
      boost::json::array{boost::json::object{{"name", std::move(names)}, {"retryPolicy", std::move(policy)}}};
  return boost::json::serialize(config);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target, const ClientOptions& options) {
  DisableMutexDeadlockDetection();
  auto config = ServiceConfigJson(options);
  if (!config.ok()) return config.status();
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(*config);
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(options.keepalive_time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(options.keepalive_timeout));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, options.keepalive_permit_without_calls ? 1 : 0);
  auto credentials = options.credentials ? options.credentials : grpc::InsecureChannelCredentials();
  auto channel = grpc::CreateCustomChannel(target, credentials, args);
  if (!channel) return absl::InvalidArgumentError("cannot create a channel to " + target);
  return channel;
}

std::unique_ptr<grpc::ClientContext> NewCallContext(absl::Duration timeout, const grpc::CallbackServerContext* parent) {
  std::unique_ptr<grpc::ClientContext> context =
      parent != nullptr ? grpc::ClientContext::FromCallbackServerContext(*parent) : std::make_unique<grpc::ClientContext>();
  // With a parent, gRPC core uses the earlier of this deadline and the parent's.
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  std::string request_id = sb::log::CurrentRequestId();
  if (request_id.empty() && parent != nullptr) request_id = RequestId(parent);
  // gRPC aborts the process on metadata values with control characters, so only well-formed ids
  // travel; the server makes a fresh one otherwise.
  if (IsValidRequestId(request_id)) context->AddMetadata(kRequestIdHeader, request_id);
  return context;
}

}  // namespace sb::rpc
