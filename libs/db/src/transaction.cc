#include "sb/db/transaction.h"

#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sb/common/log.h"
#include "sb/db/errors.h"

namespace sb::db::internal {
namespace {

const char* SetTransactionStatement(const TransactionOptions& options) {
  switch (options.isolation) {
    case IsolationLevel::kRepeatableRead:
      return options.read_only ? "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                               : "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    case IsolationLevel::kSerializable:
      return options.read_only ? "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY"
                               : "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE";
    case IsolationLevel::kReadCommitted:
      break;
  }
  return options.read_only ? "SET TRANSACTION READ ONLY" : nullptr;
}

// Full jitter: spreads retries of transactions that just conflicted so they do not collide again.
absl::Duration Backoff(const TransactionOptions& options, int retry) {
  absl::Duration cap = options.initial_backoff;
  for (int i = 1; i < retry && cap < options.max_backoff; ++i) cap *= 2;
  cap = std::min(cap, options.max_backoff);
  if (cap <= absl::ZeroDuration()) return absl::ZeroDuration();
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> dist(0, absl::ToInt64Microseconds(cap));
  return absl::Microseconds(dist(rng));
}

}  // namespace

absl::Status RunTransactionAttempts(ConnectionPool& pool, const TransactionOptions& options,
                                    absl::FunctionRef<absl::Status(pqxx::work&)> body) {
  const int max_attempts = std::max(1, options.max_attempts);
  const char* set_transaction = SetTransactionStatement(options);
  int conflicts = 0;
  bool retried_broken = false;
  while (true) {
    absl::StatusOr<PooledConnection> conn = pool.Acquire();
    if (!conn.ok()) return conn.status();
    bool commit_sent = false;
    absl::Status failure;
    bool broken = false;
    bool conflict = false;
    try {
      pqxx::work tx(**conn);
      if (set_transaction != nullptr) tx.exec0(set_transaction);
      absl::Status status = body(tx);
      if (!status.ok()) return status;  // ~work rolls back before the connection goes back
      commit_sent = true;
      tx.commit();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      failure = StatusFromException(e);
      broken = IsConnectionFailure(e) || !(*conn)->is_open();
      conflict = IsRetryableConflict(e);
    }
    if (broken) conn->MarkBroken();
    conn->Release();

    if (broken && commit_sent) {
      // COMMIT may have reached the server and succeeded; running fn again could write twice.
      sb::log::Error("postgres connection lost during commit; outcome unknown", {{"error", std::string(failure.message())}});
      return absl::UnavailableError(absl::StrCat(
          "Postgres connection lost while committing; the transaction may or may not have been applied (",
          failure.message(), ")"));
    }
    if (broken && !retried_broken) {
      // The server rolls back a transaction whose session died before COMMIT, so a rerun is safe.
      retried_broken = true;
      sb::log::Warn("postgres connection broke during transaction; retrying on a fresh connection",
                    {{"error", std::string(failure.message())}});
      continue;
    }
    if (conflict && ++conflicts < max_attempts) {
      std::this_thread::sleep_for(absl::ToChronoMicroseconds(Backoff(options, conflicts)));
      continue;
    }
    if (conflict) {
      return absl::AbortedError(absl::StrCat("transaction still conflicting after ", max_attempts,
                                             " attempts: ", failure.message()));
    }
    return failure;
  }
}

absl::Status RunStatementAttempt(ConnectionPool& pool, absl::FunctionRef<absl::Status(pqxx::nontransaction&)> body) {
  absl::StatusOr<PooledConnection> conn = pool.Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status failure;
  bool broken = false;
  bool conflict = false;
  try {
    pqxx::nontransaction tx(**conn);
    return body(tx);
  } catch (const std::exception& e) {
    failure = StatusFromException(e);
    broken = IsConnectionFailure(e) || !(*conn)->is_open();
    conflict = IsRetryableConflict(e);
  }
  if (broken) {
    conn->MarkBroken();
    conn->Release();
    // In autocommit the statement may have committed before the connection went.
    sb::log::Error("postgres connection lost during a statement; outcome unknown",
                   {{"error", std::string(failure.message())}});
    return absl::UnavailableError(absl::StrCat(
        "Postgres connection lost during the statement; it may or may not have been applied (", failure.message(), ")"));
  }
  conn->Release();
  if (conflict) return absl::AbortedError(failure.message());
  return failure;
}

}  // namespace sb::db::internal
