// The one mapping between absl::Status (used everywhere inside Switchboard) and grpc::Status
// (the RPC edge). Codes map 1:1 (both follow google.rpc.Code); the message is preserved.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace sb::rpc {

// OK -> grpc::Status::OK; otherwise the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);
// The same code and message; a code outside 0..16 becomes UNKNOWN.
absl::Status FromGrpcStatus(const grpc::Status& status);

// "OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", ... (the names used in metrics and access logs).
std::string CodeName(grpc::StatusCode code);

}  // namespace sb::rpc
