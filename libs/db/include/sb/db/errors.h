// Mapping of libpqxx / Postgres failures to absl::Status, by SQLSTATE.
//
//   23505 unique_violation                          -> AlreadyExists
//   23503 foreign_key_violation, 23001 restrict     -> FailedPrecondition (depends on other rows)
//   23502 not_null, 23514 check, 23P01 exclusion,
//   22xxx data exceptions (bad value, too long, ...) -> InvalidArgument (the value itself is bad)
//   40001 serialization_failure, 40P01 deadlock,
//   other 40xxx except 40003                         -> Aborted (safe to retry the transaction)
//   40003 statement_completion_unknown,
//   pqxx::in_doubt_error                             -> Unavailable (outcome unknown; never retried)
//   57014 query_canceled (statement_timeout)         -> DeadlineExceeded
//   53xxx insufficient resources (53300 too many
//   connections, disk full, out of memory)           -> ResourceExhausted
//   pqxx::broken_connection, 08xxx connection
//   exceptions, 57P01/57P02/57P03 shutdown/starting  -> Unavailable
//   42xxx syntax / undefined object / privilege      -> Internal (a bug or a deployment error)
//   anything else (other SQLSTATEs, pqxx usage or
//   conversion errors, std::exception)              -> Internal, SQLSTATE in the message
//
// Messages carry the SQLSTATE and Postgres' primary message (which may contain the offending
// values, e.g. the duplicate key); the RPC edge decides what reaches clients.
#pragma once

#include <exception>
#include <string>

#include "absl/status/status.h"

namespace sb::db {

absl::Status StatusFromException(const std::exception& e);

// The SQLSTATE of a pqxx::sql_error, or "" for other exceptions.
std::string SqlState(const std::exception& e);

// True if `e` means the connection itself failed (pqxx::broken_connection, 08xxx, 57P0x), so the
// connection must be discarded.
bool IsConnectionFailure(const std::exception& e);

// True for 40001 serialization_failure and 40P01 deadlock_detected: the server rolled the
// transaction back and running it again may succeed.
bool IsRetryableConflict(const std::exception& e);

}  // namespace sb::db
