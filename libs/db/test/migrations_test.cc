#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "sb/db/migrations.h"
#include "test_util.h"

namespace fs = std::filesystem;
using sb::db::ApplyMigrations;
using sb::db::ConnectionPool;
using sb::db::test::OptionsFor;
using sb::db::test::QueryScalar;
using sb::db::test::StartPostgres;

namespace {

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / ("sb_db_migrations_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void Write(const std::string& name, const std::string& content) const { std::ofstream(path / name) << content; }
  std::string str() const { return path.string(); }
  fs::path path;
};

}  // namespace

TEST_CASE("migrations: applied in numeric order and only once", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  TempDir dir;
  // Each file depends on the previous one, so a wrong order fails.
  dir.Write("0001_init.sql", "CREATE TABLE rooms (id text PRIMARY KEY);");
  dir.Write("0002_seed.sql", "INSERT INTO rooms VALUES ('lobby'); INSERT INTO rooms VALUES ('help');");
  dir.Write("0010_topic.sql", "ALTER TABLE rooms ADD COLUMN topic text; UPDATE rooms SET topic = 'hi';");

  auto applied = ApplyMigrations(pool, "chat", dir.str());
  INFO(applied.status().ToString());
  REQUIRE(applied.ok());
  CHECK(*applied == std::vector<int>{1, 2, 10});
  // Unqualified names landed in the service's schema.
  CHECK(QueryScalar(*pg, "SELECT count(*) FROM chat.rooms WHERE topic = 'hi'") == "2");
  CHECK(QueryScalar(*pg, "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM chat.schema_migrations") ==
        "1:init,2:seed,10:topic");
  CHECK(QueryScalar(*pg, "SELECT count(*) FROM chat.schema_migrations WHERE length(checksum) = 64 AND applied_at IS NOT NULL") == "3");

  auto again = ApplyMigrations(pool, "chat", dir.str());
  REQUIRE(again.ok());
  CHECK(again->empty());
  CHECK(QueryScalar(*pg, "SELECT count(*) FROM chat.rooms") == "2");

  dir.Write("0011_more.sql", "INSERT INTO rooms VALUES ('new', 'x');");
  auto more = ApplyMigrations(pool, "chat", dir.str());
  REQUIRE(more.ok());
  CHECK(*more == std::vector<int>{11});
  CHECK(pool.in_use() == 0);
}

TEST_CASE("migrations: concurrent runs apply each version exactly once", "[integration]") {
  auto pg = StartPostgres();
  TempDir dir;
  dir.Write("0001_init.sql", "CREATE TABLE runs (migration int NOT NULL); SELECT pg_sleep(0.3); INSERT INTO runs VALUES (1);");
  dir.Write("0002_next.sql", "INSERT INTO runs VALUES (2);");
  dir.Write("0003_last.sql", "SELECT pg_sleep(0.2); INSERT INTO runs VALUES (3);");

  // Separate pools stand for separately starting replicas.
  constexpr int kReplicas = 3;
  std::vector<std::unique_ptr<ConnectionPool>> pools;
  for (int i = 0; i < kReplicas; ++i) pools.push_back(std::make_unique<ConnectionPool>(OptionsFor(*pg, 2)));
  std::vector<absl::StatusOr<std::vector<int>>> results(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] { results[i] = ApplyMigrations(*pools[i], "notification", dir.str()); });
  }
  for (auto& thread : threads) thread.join();

  std::vector<int> all;
  for (const auto& result : results) {
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    all.insert(all.end(), result->begin(), result->end());
  }
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<int>{1, 2, 3});
  CHECK(QueryScalar(*pg, "SELECT string_agg(migration::text, ',' ORDER BY migration) FROM notification.runs") == "1,2,3");
}

TEST_CASE("migrations: an edited applied migration stops the run", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  TempDir dir;
  dir.Write("0001_init.sql", "CREATE TABLE t (id int);");
  REQUIRE(ApplyMigrations(pool, "push", dir.str()).ok());

  dir.Write("0001_init.sql", "CREATE TABLE t (id bigint);");
  dir.Write("0002_next.sql", "CREATE TABLE u (id int);");
  auto result = ApplyMigrations(pool, "push", dir.str());
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(result.status().message(), "0001_init.sql"));
  // Nothing else was applied.
  CHECK(QueryScalar(*pg, "SELECT count(*) FROM push.schema_migrations") == "1");
  CHECK(QueryScalar(*pg, "SELECT to_regclass('push.u') IS NULL") == "t");
}

TEST_CASE("migrations: malformed file names and duplicate versions are refused before touching the database",
          "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  {
    TempDir dir;
    dir.Write("0001_init.sql", "CREATE TABLE t (id int);");
    dir.Write("init2.sql", "CREATE TABLE u (id int);");
    auto result = ApplyMigrations(pool, "scheduler", dir.str());
    CHECK(result.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(absl::StrContains(result.status().message(), "init2.sql"));
  }
  {
    TempDir dir;
    dir.Write("0001_init.sql", "CREATE TABLE t (id int);");
    dir.Write("001_again.sql", "CREATE TABLE u (id int);");
    auto result = ApplyMigrations(pool, "scheduler", dir.str());
    CHECK(result.status().code() == absl::StatusCode::kFailedPrecondition);
  }
  CHECK(QueryScalar(*pg, "SELECT count(*) FROM pg_namespace WHERE nspname = 'scheduler'") == "0");

  TempDir ok;
  CHECK(ApplyMigrations(pool, "Bad-Schema", ok.str()).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ApplyMigrations(pool, "scheduler", ok.str() + "/missing").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("migrations: a failing migration is rolled back and reported while earlier ones stay", "[integration]") {
  auto pg = StartPostgres();
  ConnectionPool pool(OptionsFor(*pg, 2));
  TempDir dir;
  dir.Write("0001_init.sql", "CREATE TABLE t (id int);");
  dir.Write("0002_broken.sql", "CREATE TABLE u (id int); SELEC 1;");
  dir.Write("0003_after.sql", "CREATE TABLE v (id int);");
  auto result = ApplyMigrations(pool, "presence", dir.str());
  REQUIRE_FALSE(result.ok());
  CHECK(absl::StrContains(result.status().message(), "0002_broken.sql"));
  CHECK(QueryScalar(*pg, "SELECT string_agg(version::text, ',') FROM presence.schema_migrations") == "1");
  CHECK(QueryScalar(*pg, "SELECT to_regclass('presence.u') IS NULL") == "t");
  CHECK(QueryScalar(*pg, "SELECT to_regclass('presence.v') IS NULL") == "t");

  // Fixing the file lets the next start continue where it stopped.
  dir.Write("0002_broken.sql", "CREATE TABLE u (id int);");
  auto fixed = ApplyMigrations(pool, "presence", dir.str());
  REQUIRE(fixed.ok());
  CHECK(*fixed == std::vector<int>{2, 3});
}
