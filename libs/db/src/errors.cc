#include "sb/db/errors.h"

#include <pqxx/except>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace sb::db {
namespace {

// Postgres messages end with a newline and may carry DETAIL/HINT lines; keep the first line only.
std::string FirstLine(const char* what) {
  absl::string_view text(what);
  size_t newline = text.find('\n');
  if (newline != absl::string_view::npos) text = text.substr(0, newline);
  text = absl::StripTrailingAsciiWhitespace(text);
  return std::string(text);
}

bool IsConnectionSqlState(const std::string& state) {
  return absl::StartsWith(state, "08") || state == "57P01" || state == "57P02" || state == "57P03";
}

absl::StatusCode CodeForSqlState(const std::string& state) {
  if (state == "23505") return absl::StatusCode::kAlreadyExists;
  if (state == "23503" || state == "23001") return absl::StatusCode::kFailedPrecondition;
  if (absl::StartsWith(state, "23")) return absl::StatusCode::kInvalidArgument;  // 23502, 23514, 23P01, ...
  if (absl::StartsWith(state, "22")) return absl::StatusCode::kInvalidArgument;
  if (state == "40003") return absl::StatusCode::kUnavailable;
  if (absl::StartsWith(state, "40")) return absl::StatusCode::kAborted;
  if (state == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (absl::StartsWith(state, "53")) return absl::StatusCode::kResourceExhausted;
  if (IsConnectionSqlState(state)) return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kInternal;
}

}  // namespace

std::string SqlState(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) return sql->sqlstate();
  return "";
}

bool IsConnectionFailure(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return true;
  return IsConnectionSqlState(SqlState(e));
}

bool IsRetryableConflict(const std::exception& e) {
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) return true;
  const std::string state = SqlState(e);
  return state == "40001" || state == "40P01";
}

absl::Status StatusFromException(const std::exception& e) {
  const std::string message = FirstLine(e.what());
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("Postgres connection lost while committing; the transaction "
                                               "may or may not have been committed: ", message));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("Postgres connection failed: ", message));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    if (state.empty()) {
      // libpqxx raises sql_error without a state for client-side failures, e.g. a lost connection
      // noticed mid-query on some paths.
      return absl::InternalError(absl::StrCat("Postgres error: ", message));
    }
    return absl::Status(CodeForSqlState(state), absl::StrCat("Postgres error ", state, ": ", message));
  }
  // serialization_failure / deadlock_detected / statement_completion_unknown derive from
  // transaction_rollback, which is not an sql_error in libpqxx 6.4.
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("Postgres statement outcome unknown: ", message));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError(absl::StrCat("Postgres transaction rolled back: ", message));
  }
  if (dynamic_cast<const pqxx::usage_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::conversion_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::range_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::argument_error*>(&e) != nullptr) {
    return absl::InternalError(absl::StrCat("libpqxx: ", message));
  }
  return absl::InternalError(absl::StrCat("database operation failed: ", message));
}

}  // namespace sb::db
