#include <catch2/catch.hpp>

#include "sb/rpc/status.h"

TEST_CASE("every status code maps 1:1 between absl and gRPC, keeping the message") {
  for (int code = 1; code <= 16; ++code) {
    absl::Status original(static_cast<absl::StatusCode>(code), "message " + std::to_string(code));
    grpc::Status on_wire = sb::rpc::ToGrpcStatus(original);
    CHECK(static_cast<int>(on_wire.error_code()) == code);
    CHECK(on_wire.error_message() == "message " + std::to_string(code));
    absl::Status back = sb::rpc::FromGrpcStatus(on_wire);
    CHECK(back == original);
  }
  CHECK(sb::rpc::ToGrpcStatus(absl::OkStatus()).ok());
  CHECK(sb::rpc::FromGrpcStatus(grpc::Status::OK).ok());
  // Named pairs, so a systematic off-by-one in both directions would still be caught.
  CHECK(sb::rpc::ToGrpcStatus(absl::NotFoundError("x")).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(sb::rpc::ToGrpcStatus(absl::UnauthenticatedError("x")).error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(sb::rpc::FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "x")).code() ==
        absl::StatusCode::kDeadlineExceeded);
}

TEST_CASE("codes outside the defined range become UNKNOWN") {
  CHECK(sb::rpc::ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "odd")).error_code() ==
        grpc::StatusCode::UNKNOWN);
  CHECK(sb::rpc::FromGrpcStatus(grpc::Status(grpc::StatusCode::DO_NOT_USE, "odd")).code() ==
        absl::StatusCode::kUnknown);
}

TEST_CASE("code names are the canonical upper-case names") {
  CHECK(sb::rpc::CodeName(grpc::StatusCode::OK) == "OK");
  CHECK(sb::rpc::CodeName(grpc::StatusCode::UNAVAILABLE) == "UNAVAILABLE");
  CHECK(sb::rpc::CodeName(grpc::StatusCode::DEADLINE_EXCEEDED) == "DEADLINE_EXCEEDED");
  CHECK(sb::rpc::CodeName(grpc::StatusCode::RESOURCE_EXHAUSTED) == "RESOURCE_EXHAUSTED");
}
