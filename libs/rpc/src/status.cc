#include "sb/rpc/status.h"

namespace sb::rpc {
namespace {

constexpr int kMaxCode = 16;  // UNAUTHENTICATED, the last code of google.rpc.Code

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int code = static_cast<int>(status.code());
  if (code < 0 || code > kMaxCode) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  int code = static_cast<int>(status.error_code());
  if (code < 0 || code > kMaxCode) code = static_cast<int>(absl::StatusCode::kUnknown);
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

std::string CodeName(grpc::StatusCode code) {
  int value = static_cast<int>(code);
  if (value < 0 || value > kMaxCode) return "UNKNOWN";
  // absl names the same codes the same way: "OK", "DEADLINE_EXCEEDED", ...
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(value));
}

}  // namespace sb::rpc
