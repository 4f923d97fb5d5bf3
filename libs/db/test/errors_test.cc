#include "sb/db/errors.h"

#include <stdexcept>

#include <catch2/catch.hpp>
#include <pqxx/except>

#include "absl/strings/match.h"

namespace {

absl::StatusCode CodeOf(const std::string& sqlstate) {
  return sb::db::StatusFromException(pqxx::sql_error("boom", "SELECT 1", sqlstate.c_str())).code();
}

}  // namespace

TEST_CASE("SQLSTATEs map to the documented status codes") {
  CHECK(CodeOf("23505") == absl::StatusCode::kAlreadyExists);
  CHECK(CodeOf("23503") == absl::StatusCode::kFailedPrecondition);
  CHECK(CodeOf("23502") == absl::StatusCode::kInvalidArgument);
  CHECK(CodeOf("23514") == absl::StatusCode::kInvalidArgument);
  CHECK(CodeOf("22001") == absl::StatusCode::kInvalidArgument);
  CHECK(CodeOf("40001") == absl::StatusCode::kAborted);
  CHECK(CodeOf("40P01") == absl::StatusCode::kAborted);
  CHECK(CodeOf("40003") == absl::StatusCode::kUnavailable);
  CHECK(CodeOf("57014") == absl::StatusCode::kDeadlineExceeded);
  CHECK(CodeOf("53300") == absl::StatusCode::kResourceExhausted);
  CHECK(CodeOf("57P01") == absl::StatusCode::kUnavailable);
  CHECK(CodeOf("08006") == absl::StatusCode::kUnavailable);
  CHECK(CodeOf("42601") == absl::StatusCode::kInternal);
  CHECK(CodeOf("42P01") == absl::StatusCode::kInternal);
}

TEST_CASE("unmapped SQLSTATEs are Internal and name the state") {
  absl::Status status = sb::db::StatusFromException(pqxx::sql_error("strange\nDETAIL: more", "", "XX001"));
  CHECK(status.code() == absl::StatusCode::kInternal);
  CHECK(absl::StrContains(status.message(), "XX001"));
  CHECK(absl::StrContains(status.message(), "strange"));
  CHECK_FALSE(absl::StrContains(status.message(), "DETAIL"));
}

TEST_CASE("libpqxx exception classes map by type") {
  using sb::db::StatusFromException;
  CHECK(StatusFromException(pqxx::unique_violation("dup", "INSERT", "23505")).code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(StatusFromException(pqxx::broken_connection("gone")).code() == absl::StatusCode::kUnavailable);
  absl::Status in_doubt = StatusFromException(pqxx::in_doubt_error("lost during commit"));
  CHECK(in_doubt.code() == absl::StatusCode::kUnavailable);
  CHECK(absl::StrContains(in_doubt.message(), "may or may not"));
  CHECK(StatusFromException(pqxx::serialization_failure("conflict")).code() == absl::StatusCode::kAborted);
  CHECK(StatusFromException(pqxx::deadlock_detected("deadlock")).code() == absl::StatusCode::kAborted);
  CHECK(StatusFromException(pqxx::statement_completion_unknown("?")).code() == absl::StatusCode::kUnavailable);
  CHECK(StatusFromException(pqxx::conversion_error("not an int")).code() == absl::StatusCode::kInternal);
  CHECK(StatusFromException(std::runtime_error("other")).code() == absl::StatusCode::kInternal);
}

TEST_CASE("connection failures and retryable conflicts are recognised") {
  CHECK(sb::db::IsConnectionFailure(pqxx::broken_connection("gone")));
  CHECK(sb::db::IsConnectionFailure(pqxx::sql_error("shutdown", "", "57P01")));
  CHECK(sb::db::IsConnectionFailure(pqxx::sql_error("link", "", "08006")));
  CHECK_FALSE(sb::db::IsConnectionFailure(pqxx::sql_error("dup", "", "23505")));
  CHECK_FALSE(sb::db::IsConnectionFailure(std::runtime_error("x")));

  CHECK(sb::db::IsRetryableConflict(pqxx::serialization_failure("conflict")));
  CHECK(sb::db::IsRetryableConflict(pqxx::deadlock_detected("deadlock")));
  CHECK(sb::db::IsRetryableConflict(pqxx::sql_error("conflict", "", "40001")));
  CHECK_FALSE(sb::db::IsRetryableConflict(pqxx::sql_error("timeout", "", "57014")));
  CHECK_FALSE(sb::db::IsRetryableConflict(pqxx::statement_completion_unknown("?")));
}
