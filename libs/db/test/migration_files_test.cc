#include <filesystem>
#include <fstream>
#include <random>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "sb/db/migrations.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / ("sb_db_migfiles_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name) << content;
  }
  std::string str() const { return path.string(); }
  fs::path path;
};

}  // namespace

TEST_CASE("LoadMigrations sorts by numeric version and ignores non-SQL files") {
  TempDir dir;
  dir.Write("10_ten.sql", "SELECT 10;");
  dir.Write("0002_two.sql", "SELECT 2;");
  dir.Write("1_one-first.sql", "SELECT 1;");
  dir.Write("README.md", "notes");
  dir.Write(".0003_hidden.sql", "SELECT 3;");
  fs::create_directories(dir.path / "0004_dir.sql");

  auto files = sb::db::LoadMigrations(dir.str());
  REQUIRE(files.ok());
  REQUIRE(files->size() == 3);
  CHECK((*files)[0].version == 1);
  CHECK((*files)[0].name == "one-first");
  CHECK((*files)[1].version == 2);
  CHECK((*files)[1].sql == "SELECT 2;");
  CHECK((*files)[2].version == 10);
  CHECK((*files)[0].checksum.size() == 64);
  CHECK((*files)[0].checksum != (*files)[1].checksum);
}

TEST_CASE("LoadMigrations checksum is the SHA-256 of the content") {
  TempDir dir;
  dir.Write("0001_a.sql", "abc");
  auto files = sb::db::LoadMigrations(dir.str());
  REQUIRE(files.ok());
  CHECK((*files)[0].checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("LoadMigrations rejects malformed names and duplicate versions") {
  for (const char* bad : {"init.sql", "0001.sql", "0001_.sql", "00x1_init.sql", "0000_zero.sql", "0001_bad name.sql",
                          "1234567890_long.sql"}) {
    TempDir dir;
    dir.Write("0002_ok.sql", "SELECT 1;");
    dir.Write(bad, "SELECT 1;");
    auto files = sb::db::LoadMigrations(dir.str());
    INFO(bad);
    REQUIRE_FALSE(files.ok());
    CHECK(files.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(absl::StrContains(files.status().message(), bad));
  }
  TempDir dir;
  dir.Write("0001_a.sql", "SELECT 1;");
  dir.Write("1_b.sql", "SELECT 1;");
  auto files = sb::db::LoadMigrations(dir.str());
  REQUIRE_FALSE(files.ok());
  CHECK(files.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(files.status().message(), "duplicate"));
}

TEST_CASE("LoadMigrations of a missing directory is NotFound") {
  auto files = sb::db::LoadMigrations("/nonexistent/sb/migrations");
  CHECK(files.status().code() == absl::StatusCode::kNotFound);
}
