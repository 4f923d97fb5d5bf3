// Schema migrations: numbered SQL files applied once, in order, at service start-up.
//
//   services/chat/migrations/0001_init.sql, 0002_add_reactions.sql, ...
//   SB_ASSIGN_OR_RETURN(std::vector<int> applied, sb::db::ApplyMigrations(pool, "chat", dir));
//
// File names are <version>_<name>.sql: version is decimal digits (leading zeros allowed, > 0),
// name is letters, digits, '_' or '-'. Other files (README, dot files, sub-directories) are
// ignored; a *.sql file with any other name is an error.
//
// Guarantees:
//  - The whole run holds a Postgres advisory lock keyed by the schema name, so replicas starting
//    together apply each migration exactly once; the others wait, then find nothing to do.
//  - The schema and <schema>.schema_migrations(version, name, checksum, applied_at) are created if
//    missing. Each migration runs in its own transaction together with its schema_migrations row,
//    with search_path set to "<schema>, public", so a failed migration leaves no trace and the run
//    stops there with its error; earlier ones stay applied.
//  - Refuses to run (FailedPrecondition, nothing applied) if a file name is malformed, two files
//    share a version, or an already applied file's content changed (SHA-256 checksum mismatch).
//    Applied versions with no file (e.g. an older replica during a rolling deploy) only log a
//    warning. Pending versions are applied in ascending order, even if lower than applied ones.
//  - Migrations must not contain their own BEGIN/COMMIT or statements that cannot run inside a
//    transaction (CREATE INDEX CONCURRENTLY). statement_timeout is disabled while migrating.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sb/db/pool.h"

namespace sb::db {

struct MigrationFile {
  int version = 0;
  std::string name;      // file name without version prefix and ".sql", e.g. "init"
  std::string path;
  std::string sql;
  std::string checksum;  // lowercase hex SHA-256 of the file content
};

// Reads and validates the migrations in `directory`, sorted by version. NotFound if the directory
// does not exist; FailedPrecondition for malformed names or duplicate versions.
absl::StatusOr<std::vector<MigrationFile>> LoadMigrations(const std::string& directory);

// Applies the pending migrations of `directory` to `schema`; returns the versions applied by this
// call, in order (empty if the schema was up to date).
absl::StatusOr<std::vector<int>> ApplyMigrations(ConnectionPool& pool, const std::string& schema,
                                                 const std::string& directory);

// A service's database at start-up: a pool with `options`, the migrations of `directory` applied to
// `schema` (logged), ready for use. Errors as ApplyMigrations (or the pool's connect failure).
absl::StatusOr<std::unique_ptr<ConnectionPool>> OpenMigrated(const PoolOptions& options, const std::string& schema,
                                                             const std::string& directory);

}  // namespace sb::db
