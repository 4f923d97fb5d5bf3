#include <catch2/catch.hpp>

#include <memory>

#include "sb/common/status.h"

namespace {

absl::StatusOr<std::unique_ptr<int>> MakeInt(int v) {
  if (v < 0) return absl::InvalidArgumentError("negative");
  return std::make_unique<int>(v);
}

absl::Status Check(int v) {
  if (v == 0) return absl::NotFoundError("zero");
  return absl::OkStatus();
}

absl::StatusOr<int> Doubled(int v) {
  SB_RETURN_IF_ERROR(Check(v));
  SB_ASSIGN_OR_RETURN(auto p, MakeInt(v));  // move-only values work
  int result = 0;
  SB_ASSIGN_OR_RETURN(result, absl::StatusOr<int>(*p * 2));  // assigns an existing variable
  return result;
}

}  // namespace

TEST_CASE("status macros return the first error and unwrap values") {
  CHECK(*Doubled(4) == 8);
  CHECK(Doubled(0).status().code() == absl::StatusCode::kNotFound);
  CHECK(Doubled(-1).status().code() == absl::StatusCode::kInvalidArgument);
}
