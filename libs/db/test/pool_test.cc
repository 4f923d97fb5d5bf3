#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "sb/db/pool.h"
#include "test_util.h"

using sb::db::ConnectionPool;
using sb::db::test::OptionsFor;
using sb::db::test::QueryScalar;
using sb::db::test::StartPostgres;

namespace {

int BackendPid(sb::db::PooledConnection& conn) {
  pqxx::nontransaction tx(*conn);
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
}

}  // namespace

TEST_CASE("pool: acquiring beyond max waits then fails with ResourceExhausted", "[integration]") {
  auto pg = StartPostgres();
  auto options = OptionsFor(*pg, 2);
  options.acquire_timeout = absl::Milliseconds(300);
  ConnectionPool pool(options);

  auto a = pool.Acquire();
  auto b = pool.Acquire();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(pool.in_use() == 2);

  auto start = std::chrono::steady_clock::now();
  auto c = pool.Acquire();
  auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(absl::StrContains(c.status().message(), "pool exhausted"));
  CHECK(waited >= std::chrono::milliseconds(280));
  CHECK(waited < std::chrono::seconds(3));
  CHECK(pool.waits_total() == 1);
  CHECK(pool.timeouts_total() == 1);
  CHECK(pool.size() == 2);

  // A waiter gets the connection another thread releases, without opening a third one.
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    a->Release();
  });
  auto d = pool.Acquire(absl::Seconds(5));
  releaser.join();
  REQUIRE(d.ok());
  CHECK(pool.opened_total() == 2);
  CHECK(pool.waits_total() == 2);
}

TEST_CASE("pool: released handles return their connection for reuse", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  int first_pid = 0;
  {
    auto conn = pool.Acquire();
    REQUIRE(conn.ok());
    first_pid = BackendPid(*conn);
    CHECK(pool.in_use() == 1);
    CHECK(pool.idle() == 0);
  }
  CHECK(pool.in_use() == 0);
  CHECK(pool.idle() == 1);
  auto again = pool.Acquire();
  REQUIRE(again.ok());
  CHECK(BackendPid(*again) == first_pid);
  CHECK(pool.opened_total() == 1);

  // Moving a handle moves ownership; the moved-from handle returns nothing.
  sb::db::PooledConnection moved = *std::move(again);
  CHECK(pool.in_use() == 1);
  moved.Release();
  CHECK(pool.in_use() == 0);
  CHECK(pool.idle() == 1);

  // Discarded connections are closed instead of being returned.
  auto discarded = pool.Acquire();
  REQUIRE(discarded.ok());
  discarded->Discard();
  discarded->Release();
  CHECK(pool.idle() == 0);
  CHECK(pool.broken_total() == 0);
}

TEST_CASE("pool: connection settings are applied to every connection", "[integration]") {
  auto pg = StartPostgres();
  auto options = OptionsFor(*pg, 1);
  options.statement_timeout = absl::Milliseconds(1500);
  options.application_name = "sb chat";
  ConnectionPool pool(options);
  auto conn = pool.Acquire();
  REQUIRE(conn.ok());
  pqxx::nontransaction tx(**conn);
  CHECK(tx.exec1("SHOW statement_timeout")[0].as<std::string>() == "1500ms");
  CHECK(tx.exec1("SHOW application_name")[0].as<std::string>() == "sb chat");
}

TEST_CASE("pool: size never exceeds max with 8 threads hammering it", "[integration]") {
  auto pg = StartPostgres();
  auto options = OptionsFor(*pg, 3);
  options.application_name = "sb_pool_hammer";
  options.acquire_timeout = absl::Seconds(20);
  ConnectionPool pool(options);

  std::atomic<int> max_seen_size{0};
  std::atomic<int> max_server_sessions{0};
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto conn = pool.Acquire();
        if (!conn.ok()) {
          ++failures;
          continue;
        }
        int size = pool.size();
        int prev = max_seen_size.load();
        while (size > prev && !max_seen_size.compare_exchange_weak(prev, size)) {
        }
        try {
          pqxx::nontransaction tx(**conn);
          if (i % 5 == t % 5) {
            int sessions = tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sb_pool_hammer'")[0]
                               .as<int>();
            int seen = max_server_sessions.load();
            while (sessions > seen && !max_server_sessions.compare_exchange_weak(seen, sessions)) {
            }
          }
          tx.exec("SELECT pg_sleep(0.002)");
          ++done;
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  CHECK(failures == 0);
  CHECK(done == 8 * 25);
  CHECK(max_seen_size <= 3);
  CHECK(max_server_sessions >= 1);
  CHECK(max_server_sessions <= 3);
  CHECK(pool.opened_total() <= 3);
  CHECK(pool.in_use() == 0);
  CHECK(pool.waits_total() > 0);  // 8 threads on 3 connections must have queued
}

TEST_CASE("pool: a connection killed by the server is not handed out again", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  int victim_pid = 0;
  {
    auto conn = pool.Acquire();
    REQUIRE(conn.ok());
    victim_pid = BackendPid(*conn);
  }
  REQUIRE(pool.idle() == 1);
  CHECK(QueryScalar(*pg, "SELECT pg_terminate_backend(" + std::to_string(victim_pid) + ")") == "t");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  auto conn = pool.Acquire();
  REQUIRE(conn.ok());
  CHECK(BackendPid(*conn) != victim_pid);
  CHECK(pool.broken_total() == 1);
  CHECK(pool.opened_total() == 2);
}

TEST_CASE("pool: Acquire fails fast with Unavailable when Postgres is down", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  REQUIRE(pg->Stop().ok());
  auto start = std::chrono::steady_clock::now();
  auto conn = pool.Acquire();
  REQUIRE_FALSE(conn.ok());
  CHECK(conn.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(pool.size() == 0);  // the failed attempt gave its slot back
  CHECK(pool.connect_failures_total() == 1);

  REQUIRE(pg->Resume().ok());
  auto later = pool.Acquire();
  REQUIRE(later.ok());
}
