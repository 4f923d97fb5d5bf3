// The SB_* settings every Switchboard service reads the same way, filled into the service's own
// config struct (any struct with the member names below; groups a service lacks are skipped):
//
//   SB_INSTANCE_ID (default "<hostname>-<pid>")  -> instance_id
//   SB_LOG_LEVEL                                  -> log_level
//   SB_GRPC_HOST, SB_GRPC_PORT, SB_GRPC_REFLECTION -> grpc_host, grpc_port, grpc_reflection
//   SB_HTTP_HOST, SB_HTTP_PORT                    -> http_host, http_port
//   SB_POSTGRES_URL, SB_POSTGRES_POOL_SIZE, SB_POSTGRES_STATEMENT_TIMEOUT
//                                                 -> postgres_url, postgres_pool_size, statement_timeout
//   SB_BLOCKING_QUEUE                             -> blocking_queue
//   SB_REDIS_URL, SB_REDIS_POOL_SIZE              -> redis_url, redis_pool_size
//   SB_STREAM_MAX_LENGTH                          -> stream_max_length
//   SB_SHUTDOWN_GRACE                             -> shutdown_grace
//
// The struct's member initializers are the defaults; bad values are collected in `env` like any
// other EnvConfig read.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/time/time.h"
#include "sb/common/config.h"

namespace sb {

// "<hostname>-<pid>", or "<service>-<pid>" when the host name is unknown.
std::string DefaultInstanceId(std::string_view service);

template <typename Config>
void ReadServiceSettings(sb::EnvConfig& env, std::string_view service, Config& c) {
  c.instance_id = env.String("SB_INSTANCE_ID", DefaultInstanceId(service));
  c.log_level = env.String("SB_LOG_LEVEL", c.log_level);
  c.grpc_host = env.String("SB_GRPC_HOST", c.grpc_host);
  c.grpc_port = static_cast<int>(env.Int("SB_GRPC_PORT", c.grpc_port, 0, 65535));
  c.grpc_reflection = env.Bool("SB_GRPC_REFLECTION", c.grpc_reflection);
  c.http_host = env.String("SB_HTTP_HOST", c.http_host);
  c.http_port = static_cast<int>(env.Int("SB_HTTP_PORT", c.http_port, 0, 65535));
  if constexpr (requires { c.postgres_url; }) {
    c.postgres_url = env.String("SB_POSTGRES_URL", c.postgres_url);
    c.postgres_pool_size = static_cast<int>(env.Int("SB_POSTGRES_POOL_SIZE", c.postgres_pool_size, 1, 1000));
    c.statement_timeout = env.Duration("SB_POSTGRES_STATEMENT_TIMEOUT", c.statement_timeout);
  }
  if constexpr (requires { c.blocking_queue; }) {
    c.blocking_queue = static_cast<int>(env.Int("SB_BLOCKING_QUEUE", c.blocking_queue, 1, 1'000'000));
  }
  if constexpr (requires { c.redis_url; }) {
    c.redis_url = env.String("SB_REDIS_URL", c.redis_url);
    c.redis_pool_size = static_cast<int>(env.Int("SB_REDIS_POOL_SIZE", c.redis_pool_size, 1, 1024));
  }
  if constexpr (requires { c.stream_max_length; }) {
    c.stream_max_length = env.Int("SB_STREAM_MAX_LENGTH", c.stream_max_length, 1, 1'000'000);
  }
  if constexpr (requires { c.shutdown_grace; }) {
    using Grace = std::remove_cvref_t<decltype(c.shutdown_grace)>;  // absl::Duration or std::chrono
    if constexpr (std::is_same_v<Grace, absl::Duration>) {
      c.shutdown_grace = env.Duration("SB_SHUTDOWN_GRACE", c.shutdown_grace);
    } else {
      c.shutdown_grace = std::chrono::duration_cast<Grace>(
          absl::ToChronoMilliseconds(env.Duration("SB_SHUTDOWN_GRACE", absl::FromChrono(c.shutdown_grace))));
    }
  }
}

}  // namespace sb
