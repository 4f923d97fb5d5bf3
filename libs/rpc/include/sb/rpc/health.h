// Client for the standard grpc.health.v1.Health/Check method (gRPC ships no generated C++ stub
// for it), used by tools and tests to probe a server.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sb::rpc {

// Values of grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// Asks the server at `channel` for the status of `service` ("" = the whole server). The RPC's
// error (e.g. NOT_FOUND for an unknown service, UNAVAILABLE) comes back as the status.
absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                                          absl::Duration timeout);

}  // namespace sb::rpc
