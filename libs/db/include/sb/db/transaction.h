// Run a function inside one Postgres transaction, with retries where they are safe.
//
//   absl::StatusOr<int64_t> id = sb::db::RunInTransaction(pool, [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
//     auto row = tx.exec_params1("INSERT INTO chat.messages (...) VALUES ($1, ...) RETURNING id", ...);
//     if (...) return absl::FailedPreconditionError("...");   // rolls back, returned as is
//     return row[0].as<int64_t>();
//   }, {.isolation = sb::db::IsolationLevel::kSerializable});
//
// `fn(pqxx::work&)` may return void, absl::Status, absl::StatusOr<T> or a plain T; RunInTransaction
// returns absl::Status for the first two and absl::StatusOr<T> for the others.
//
// Guarantees:
//  - fn's work is committed iff RunInTransaction returns OK. A non-OK status returned by fn, or an
//    exception thrown by it, rolls the transaction back; exceptions become statuses through
//    StatusFromException (sb/db/errors.h), so nothing is thrown.
//  - fn may run more than once, so it must not have side effects outside the transaction:
//      * serialization failure (40001) or deadlock (40P01): retried up to max_attempts in total,
//        with jittered exponential backoff; after the last attempt the result is Aborted.
//      * the connection broke BEFORE COMMIT was sent: retried once more on a fresh connection
//        (the server rolls an unfinished transaction back, so nothing is duplicated).
//      * the connection broke WHILE COMMITTING: never retried. The result is Unavailable with a
//        message saying the outcome is unknown; the caller must check (e.g. by an idempotency key)
//        before writing again.
//  - The isolation level is set with SET TRANSACTION ISOLATION LEVEL as the first statement.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sb/db/pool.h"

namespace sb::db {

enum class IsolationLevel { kReadCommitted, kRepeatableRead, kSerializable };

struct TransactionOptions {
  IsolationLevel isolation = IsolationLevel::kReadCommitted;
  bool read_only = false;
  // Total runs allowed when the transaction hits serialization failures or deadlocks.
  int max_attempts = 5;
  // Backoff before retry n is uniformly random in [0, min(max_backoff, initial_backoff * 2^(n-1))].
  absl::Duration initial_backoff = absl::Milliseconds(10);
  absl::Duration max_backoff = absl::Milliseconds(500);
};

namespace internal {

// The retry loop behind RunInTransaction; `body` runs once per attempt and commits when it returns OK.
absl::Status RunTransactionAttempts(ConnectionPool& pool, const TransactionOptions& options,
                                    absl::FunctionRef<absl::Status(pqxx::work&)> body);
// RunStatement's one attempt.
absl::Status RunStatementAttempt(ConnectionPool& pool, absl::FunctionRef<absl::Status(pqxx::nontransaction&)> body);

template <typename T>
struct IsStatusOr : std::false_type {};
template <typename T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};

}  // namespace internal

template <typename Fn>
auto RunInTransaction(ConnectionPool& pool, Fn&& fn, const TransactionOptions& options = {}) {
  using R = std::invoke_result_t<Fn&, pqxx::work&>;
  if constexpr (std::is_void_v<R>) {
    return internal::RunTransactionAttempts(pool, options, [&](pqxx::work& tx) {
      fn(tx);
      return absl::OkStatus();
    });
  } else if constexpr (std::is_same_v<R, absl::Status>) {
    return internal::RunTransactionAttempts(pool, options, [&](pqxx::work& tx) { return fn(tx); });
  } else if constexpr (internal::IsStatusOr<R>::value) {
    using T = typename R::value_type;
    std::optional<T> value;
    absl::Status status = internal::RunTransactionAttempts(pool, options, [&](pqxx::work& tx) {
      R result = fn(tx);
      if (!result.ok()) return result.status();
      value.emplace(*std::move(result));
      return absl::OkStatus();
    });
    if (!status.ok()) return absl::StatusOr<T>(status);
    return absl::StatusOr<T>(*std::move(value));
  } else {
    std::optional<R> value;
    absl::Status status = internal::RunTransactionAttempts(pool, options, [&](pqxx::work& tx) {
      value.emplace(fn(tx));
      return absl::OkStatus();
    });
    if (!status.ok()) return absl::StatusOr<R>(status);
    return absl::StatusOr<R>(*std::move(value));
  }
}

// One statement in autocommit mode — the statement is its own transaction — for hot paths where a
// single statement (e.g. a server-side function) does all the work: two round trips (BEGIN,
// COMMIT) fewer than RunInTransaction. `fn(pqxx::nontransaction&)` must run exactly one writing
// statement (several would each commit on their own). Never retried: a conflict (40001, 40P01)
// comes back as Aborted, and a connection that breaks while the statement runs gives Unavailable
// "outcome unknown" (check with an idempotency key before writing again). Return types as
// RunInTransaction.
template <typename Fn>
auto RunStatement(ConnectionPool& pool, Fn&& fn) {
  using R = std::invoke_result_t<Fn&, pqxx::nontransaction&>;
  static_assert(internal::IsStatusOr<R>::value, "RunStatement: fn returns absl::StatusOr<T>");
  using T = typename R::value_type;
  std::optional<T> value;
  absl::Status status = internal::RunStatementAttempt(pool, [&](pqxx::nontransaction& tx) {
    R result = fn(tx);
    if (!result.ok()) return result.status();
    value.emplace(*std::move(result));
    return absl::OkStatus();
  });
  if (!status.ok()) return absl::StatusOr<T>(status);
  return absl::StatusOr<T>(*std::move(value));
}

}  // namespace sb::db
