#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "sb/db/arrays.h"
#include "sb/db/transaction.h"
#include "test_util.h"

using sb::db::ConnectionPool;
using sb::db::IsolationLevel;
using sb::db::RunInTransaction;
using sb::db::test::OptionsFor;
using sb::db::test::QueryScalar;
using sb::db::test::StartPostgres;

namespace {

absl::Status Exec(ConnectionPool& pool, const std::string& sql) {
  return RunInTransaction(pool, [&](pqxx::work& tx) { tx.exec(sql); });
}

absl::StatusOr<int> Count(ConnectionPool& pool, const std::string& table) {
  return RunInTransaction(pool, [&](pqxx::work& tx) { return tx.exec1("SELECT count(*) FROM " + table)[0].as<int>(); });
}

// Fills the pool with `n` idle connections that were all used once.
void WarmUp(ConnectionPool& pool, int n) {
  std::vector<sb::db::PooledConnection> held;
  for (int i = 0; i < n; ++i) {
    auto conn = pool.Acquire();
    REQUIRE(conn.ok());
    pqxx::nontransaction(**conn).exec("SELECT 1");
    held.push_back(*std::move(conn));
  }
}

}  // namespace

TEST_CASE("transaction: the pool recovers after a Postgres restart", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 4));
  REQUIRE(Exec(pool, "CREATE TABLE items (id int PRIMARY KEY)").ok());
  REQUIRE(Exec(pool, "INSERT INTO items VALUES (1)").ok());
  WarmUp(pool, 4);
  REQUIRE(pool.idle() == 4);
  const int64_t opened_before = pool.opened_total();

  REQUIRE(pg->Restart().ok());

  // Every idle connection is dead now; the call must still succeed on a fresh one.
  int attempts = 0;
  absl::Status status = RunInTransaction(pool, [&](pqxx::work& tx) {
    ++attempts;
    tx.exec("INSERT INTO items VALUES (2)");
  });
  INFO(status.ToString());
  REQUIRE(status.ok());
  CHECK(attempts == 1);  // dead connections were dropped at acquire, not by failing fn
  CHECK(pool.opened_total() > opened_before);
  CHECK(pool.broken_total() >= 4);
  auto count = Count(pool, "items");
  REQUIRE(count.ok());
  CHECK(*count == 2);
}

TEST_CASE("transaction: the pool recovers after Postgres is killed and started again", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 3));
  REQUIRE(Exec(pool, "CREATE TABLE items (id int PRIMARY KEY)").ok());
  WarmUp(pool, 3);
  // The test server runs with synchronous_commit=off; make the table survive the crash.
  QueryScalar(*pg, "CHECKPOINT");

  REQUIRE(pg->Kill().ok());
  REQUIRE(pg->Resume().ok());

  absl::Status status = Exec(pool, "INSERT INTO items VALUES (1)");
  INFO(status.ToString());
  REQUIRE(status.ok());
  auto count = Count(pool, "items");
  REQUIRE(count.ok());
  CHECK(*count == 1);
}

TEST_CASE("transaction: while Postgres is stopped calls fail fast with Unavailable", "[integration]") {
  auto pg = StartPostgres();
  auto options = OptionsFor(*pg, 2);
  options.acquire_timeout = absl::Seconds(5);
  ConnectionPool pool(options);
  REQUIRE(Exec(pool, "CREATE TABLE items (id int PRIMARY KEY)").ok());
  WarmUp(pool, 2);
  REQUIRE(pg->Stop().ok());

  for (int i = 0; i < 3; ++i) {
    auto start = std::chrono::steady_clock::now();
    absl::Status status = Exec(pool, "INSERT INTO items VALUES (1)");
    auto took = std::chrono::steady_clock::now() - start;
    INFO(status.ToString());
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    CHECK(took < std::chrono::seconds(2));
  }
  CHECK(pool.in_use() == 0);

  REQUIRE(pg->Resume().ok());
  REQUIRE(Exec(pool, "INSERT INTO items VALUES (1)").ok());
}

TEST_CASE("transaction: a connection lost before commit is retried once on a fresh connection", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  REQUIRE(Exec(pool, "CREATE TABLE items (id int PRIMARY KEY)").ok());

  int attempts = 0;
  absl::Status status = RunInTransaction(pool, [&](pqxx::work& tx) {
    ++attempts;
    tx.exec("INSERT INTO items VALUES (1)");
    if (attempts == 1) tx.exec("SELECT pg_terminate_backend(pg_backend_pid())");
  });
  INFO(status.ToString());
  REQUIRE(status.ok());
  CHECK(attempts == 2);
  CHECK(pool.broken_total() == 1);
  auto count = Count(pool, "items");
  REQUIRE(count.ok());
  CHECK(*count == 1);  // the first attempt's insert was rolled back with its session

  // Two breaks in a row: the second one is reported, not retried again.
  attempts = 0;
  status = RunInTransaction(pool, [&](pqxx::work& tx) {
    ++attempts;
    tx.exec("SELECT pg_terminate_backend(pg_backend_pid())");
  });
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  CHECK(attempts == 2);
}

TEST_CASE("transaction: a connection lost during commit is Unavailable and never re-run", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  // A deferred constraint trigger runs inside COMMIT; killing its own session there loses the
  // connection after the client sent COMMIT, so the client cannot know the outcome.
  REQUIRE(Exec(pool, R"sql(
      CREATE TABLE items (id int PRIMARY KEY);
      CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(1);
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER die AFTER INSERT ON items DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION die_at_commit();
  )sql").ok());

  int attempts = 0;
  absl::Status status = RunInTransaction(pool, [&](pqxx::work& tx) {
    ++attempts;
    tx.exec("INSERT INTO items VALUES (1)");
  });
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kUnavailable);
  CHECK(absl::StrContains(status.message(), "may or may not"));
  CHECK(attempts == 1);
}

TEST_CASE("transaction: conflicting SERIALIZABLE transactions both commit via retry", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 4));
  REQUIRE(Exec(pool, "CREATE TABLE ledger (v int NOT NULL)").ok());

  // Both first attempts read the (empty) sum before either inserts: a write-skew that SERIALIZABLE
  // must reject for one of them.
  std::latch both_read(2);
  std::atomic<int> attempts{0};
  std::vector<absl::Status> results(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      bool first = true;
      results[t] = RunInTransaction(
          pool,
          [&](pqxx::work& tx) {
            ++attempts;
            int sum = tx.exec1("SELECT coalesce(sum(v), 0) FROM ledger")[0].as<int>();
            if (first) {
              first = false;
              both_read.arrive_and_wait();
            }
            tx.exec_params("INSERT INTO ledger VALUES ($1)", sum + 1);
          },
          {.isolation = IsolationLevel::kSerializable, .max_attempts = 10});
    });
  }
  for (auto& thread : threads) thread.join();

  INFO(results[0].ToString() << " / " << results[1].ToString());
  CHECK(results[0].ok());
  CHECK(results[1].ok());
  CHECK(attempts > 2);
  // Serial outcome: the second transaction saw the first one's row.
  CHECK(QueryScalar(*pg, "SELECT string_agg(v::text, ',' ORDER BY v) FROM ledger") == "1,2");
}

TEST_CASE("transaction: a deadlock is retried and both transactions commit", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 4));
  REQUIRE(Exec(pool, "CREATE TABLE accounts (id int PRIMARY KEY, n int NOT NULL); "
                     "INSERT INTO accounts VALUES (1, 0), (2, 0)").ok());
  std::latch both_locked(2);
  std::atomic<int> attempts{0};
  std::vector<absl::Status> results(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      bool first = true;
      const int mine = t + 1, other = 2 - t;
      results[t] = RunInTransaction(pool, [&](pqxx::work& tx) {
        ++attempts;
        tx.exec_params("UPDATE accounts SET n = n + 1 WHERE id = $1", mine);
        if (first) {
          first = false;
          both_locked.arrive_and_wait();
        }
        tx.exec_params("UPDATE accounts SET n = n + 1 WHERE id = $1", other);
      });
    });
  }
  for (auto& thread : threads) thread.join();
  INFO(results[0].ToString() << " / " << results[1].ToString());
  CHECK(results[0].ok());
  CHECK(results[1].ok());
  CHECK(attempts == 3);
  CHECK(QueryScalar(*pg, "SELECT string_agg(n::text, ',' ORDER BY id) FROM accounts") == "2,2");
}

TEST_CASE("transaction: conflicts give up with Aborted after max_attempts", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  int attempts = 0;
  absl::Status status = RunInTransaction(
      pool, [&](pqxx::work& tx) -> absl::Status {
        ++attempts;
        throw pqxx::serialization_failure("simulated conflict");
      },
      {.max_attempts = 3, .initial_backoff = absl::Milliseconds(1)});
  CHECK(status.code() == absl::StatusCode::kAborted);
  CHECK(attempts == 3);
}

TEST_CASE("transaction: errors map to status codes and roll back", "[integration]") {
  auto pg = StartPostgres();
  auto options = OptionsFor(*pg, 2);
  options.statement_timeout = absl::Milliseconds(200);
  ConnectionPool pool(options);
  REQUIRE(Exec(pool, "CREATE TABLE items (id int PRIMARY KEY, label text CHECK (label <> ''))").ok());
  REQUIRE(Exec(pool, "INSERT INTO items VALUES (1, 'a')").ok());

  SECTION("unique violation is AlreadyExists") {
    absl::Status status = Exec(pool, "INSERT INTO items VALUES (1, 'b')");
    CHECK(status.code() == absl::StatusCode::kAlreadyExists);
    CHECK(absl::StrContains(status.message(), "23505"));
  }
  SECTION("check violation is InvalidArgument") {
    CHECK(Exec(pool, "INSERT INTO items VALUES (2, '')").code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("statement timeout is DeadlineExceeded, not retried") {
    int attempts = 0;
    auto start = std::chrono::steady_clock::now();
    absl::Status status = RunInTransaction(pool, [&](pqxx::work& tx) {
      ++attempts;
      tx.exec("SELECT pg_sleep(3)");
    });
    CHECK(status.code() == absl::StatusCode::kDeadlineExceeded);
    CHECK(attempts == 1);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  }
  SECTION("an error status from fn rolls back and is returned as is") {
    absl::Status status = RunInTransaction(pool, [&](pqxx::work& tx) {
      tx.exec("INSERT INTO items VALUES (5, 'e')");
      return absl::FailedPreconditionError("changed my mind");
    });
    CHECK(status == absl::FailedPreconditionError("changed my mind"));
    CHECK(QueryScalar(*pg, "SELECT count(*) FROM items WHERE id = 5") == "0");
  }
  SECTION("an error StatusOr from fn rolls back") {
    absl::StatusOr<int> result = RunInTransaction(pool, [&](pqxx::work& tx) -> absl::StatusOr<int> {
      tx.exec("INSERT INTO items VALUES (6, 'f')");
      return absl::NotFoundError("nope");
    });
    CHECK(result.status().code() == absl::StatusCode::kNotFound);
    CHECK(QueryScalar(*pg, "SELECT count(*) FROM items WHERE id = 6") == "0");
  }
  SECTION("an exception from fn rolls back and becomes Internal") {
    absl::Status status = RunInTransaction(pool, [&](pqxx::work& tx) {
      tx.exec("INSERT INTO items VALUES (7, 'g')");
      throw std::runtime_error("bug");
    });
    CHECK(status.code() == absl::StatusCode::kInternal);
    CHECK(QueryScalar(*pg, "SELECT count(*) FROM items WHERE id = 7") == "0");
  }
  // Failures leave no connection checked out.
  CHECK(pool.in_use() == 0);
}

TEST_CASE("transaction: values and StatusOr and the isolation level reach the caller", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  absl::StatusOr<std::string> level = RunInTransaction(pool, [](pqxx::work& tx) {
    return tx.exec1("SHOW transaction_isolation")[0].as<std::string>();
  });
  REQUIRE(level.ok());
  CHECK(*level == "read committed");

  level = RunInTransaction(
      pool, [](pqxx::work& tx) -> absl::StatusOr<std::string> {
        return tx.exec1("SHOW transaction_isolation")[0].as<std::string>();
      },
      {.isolation = IsolationLevel::kSerializable});
  REQUIRE(level.ok());
  CHECK(*level == "serializable");

  level = RunInTransaction(
      pool, [](pqxx::work& tx) { return tx.exec1("SHOW transaction_isolation")[0].as<std::string>(); },
      {.isolation = IsolationLevel::kRepeatableRead});
  REQUIRE(level.ok());
  CHECK(*level == "repeatable read");

  absl::Status read_only = RunInTransaction(
      pool, [](pqxx::work& tx) { tx.exec("CREATE TABLE nope (id int)"); }, {.read_only = true});
  CHECK_FALSE(read_only.ok());
}

TEST_CASE("statement: one autocommitted statement; errors map; a lost connection is never re-run", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  REQUIRE(Exec(pool, "CREATE TABLE items (id int PRIMARY KEY)").ok());

  auto inserted = sb::db::RunStatement(pool, [](pqxx::nontransaction& tx) -> absl::StatusOr<int> {
    return tx.exec1("INSERT INTO items VALUES (1) RETURNING id")[0].as<int>();
  });
  REQUIRE(inserted.ok());
  CHECK(*inserted == 1);
  CHECK(*Count(pool, "items") == 1);  // committed on its own: visible to another connection

  auto duplicate = sb::db::RunStatement(pool, [](pqxx::nontransaction& tx) -> absl::StatusOr<int> {
    return tx.exec1("INSERT INTO items VALUES (1) RETURNING id")[0].as<int>();
  });
  CHECK(duplicate.status().code() == absl::StatusCode::kAlreadyExists);
  auto refused = sb::db::RunStatement(pool, [](pqxx::nontransaction&) -> absl::StatusOr<int> {
    return absl::FailedPreconditionError("no");
  });
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);

  int attempts = 0;
  auto lost = sb::db::RunStatement(pool, [&](pqxx::nontransaction& tx) -> absl::StatusOr<int> {
    ++attempts;
    return tx.exec1("SELECT 1 FROM pg_terminate_backend(pg_backend_pid())")[0].as<int>();
  });
  CHECK(lost.status().code() == absl::StatusCode::kUnavailable);
  CHECK(absl::StrContains(lost.status().message(), "may or may not"));
  CHECK(attempts == 1);
  CHECK(*Count(pool, "items") == 1);  // and the pool goes on with a fresh connection
}

TEST_CASE("arrays: text literals round-trip any string; parsed back element by element", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 1));
  const std::vector<std::string> values{"plain", "with,comma", "{braces}", "quote\"d", "back\\slash", "NULL", "", "é 空"};
  auto back = RunInTransaction(pool, [&](pqxx::work& tx) {
    auto row = tx.exec_params1("SELECT array_agg(v ORDER BY o), count(*) FROM unnest($1::text[]) WITH ORDINALITY AS t(v, o)",
                               sb::db::TextArray(values));
    return std::make_pair(sb::db::ParseArray(row[0]), row[1].as<int>());
  });
  REQUIRE(back.ok());
  CHECK(back->second == static_cast<int>(values.size()));
  CHECK(back->first == values);
  auto ids = RunInTransaction(pool, [&](pqxx::work& tx) {
    return tx.exec_params1("SELECT sum(x) FROM unnest($1::bigint[]) x", sb::db::IdArray({1, 20, 300}))[0].as<int64_t>();
  });
  REQUIRE(ids.ok());
  CHECK(*ids == 321);
  auto empty = RunInTransaction(pool, [&](pqxx::work& tx) {
    return sb::db::ParseArray(tx.exec1("SELECT NULL::text[]")[0]).size();
  });
  CHECK(*empty == 0);
}
