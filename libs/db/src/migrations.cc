#include "sb/db/migrations.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sb/common/log.h"
#include "sb/common/status.h"
#include "sb/db/errors.h"

namespace sb::db {
namespace {

namespace fs = std::filesystem;

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

// Stable across processes and versions (unlike std::hash), so every replica derives the same key.
int64_t AdvisoryLockKey(const std::string& schema) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : "switchboard.migrations:" + schema) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  int64_t key;
  std::memcpy(&key, &hash, sizeof key);
  return key;
}

bool ValidName(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '-';
  });
}

absl::StatusOr<MigrationFile> ParseFileName(const std::string& file_name) {
  const std::string stem = file_name.substr(0, file_name.size() - 4);  // caller checked ".sql"
  const size_t underscore = stem.find('_');
  const std::string digits = stem.substr(0, underscore);
  const auto malformed = [&](const std::string& why) {
    return absl::FailedPreconditionError(absl::StrCat("malformed migration file name \"", file_name, "\": ", why,
                                                      " (expected <version>_<name>.sql, e.g. 0001_init.sql)"));
  };
  if (underscore == std::string::npos) return malformed("no '_' after the version");
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return absl::ascii_isdigit(c); })) {
    return malformed("version must be 1 to 9 decimal digits");
  }
  MigrationFile file;
  if (!absl::SimpleAtoi(digits, &file.version) || file.version <= 0) return malformed("version must be > 0");
  file.name = stem.substr(underscore + 1);
  if (!ValidName(file.name)) return malformed("name must be letters, digits, '_' or '-'");
  return file;
}

bool ValidSchemaName(const std::string& schema) {
  if (schema.empty() || schema.size() > 63 || absl::ascii_isdigit(static_cast<unsigned char>(schema[0]))) return false;
  return std::all_of(schema.begin(), schema.end(), [](unsigned char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
  });
}

struct AppliedMigration {
  std::string name;
  std::string checksum;
};

}  // namespace

absl::StatusOr<std::vector<MigrationFile>> LoadMigrations(const std::string& directory) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    return absl::NotFoundError(absl::StrCat("migrations directory not found: ", directory));
  }
  std::vector<MigrationFile> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, ec)) {
    const std::string file_name = entry.path().filename().string();
    if (file_name.empty() || file_name[0] == '.' || !entry.is_regular_file(ec)) continue;
    if (file_name.size() <= 4 || file_name.substr(file_name.size() - 4) != ".sql") continue;
    absl::StatusOr<MigrationFile> file = ParseFileName(file_name);
    if (!file.ok()) return file.status();
    file->path = entry.path().string();
    std::ifstream in(file->path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read migration ", file->path));
    file->sql = content.str();
    file->checksum = Sha256Hex(file->sql);
    files.push_back(*std::move(file));
  }
  if (ec) return absl::FailedPreconditionError(absl::StrCat("cannot list ", directory, ": ", ec.message()));
  std::sort(files.begin(), files.end(),
            [](const MigrationFile& a, const MigrationFile& b) { return a.version < b.version; });
  for (size_t i = 1; i < files.size(); ++i) {
    if (files[i].version == files[i - 1].version) {
      return absl::FailedPreconditionError(absl::StrCat("duplicate migration version ", files[i].version, ": ",
                                                        files[i - 1].path, " and ", files[i].path));
    }
  }
  return files;
}

absl::StatusOr<std::vector<int>> ApplyMigrations(ConnectionPool& pool, const std::string& schema,
                                                 const std::string& directory) {
  if (!ValidSchemaName(schema)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid schema name \"", schema,
                                                   "\" (lowercase letters, digits and '_', at most 63)"));
  }
  absl::StatusOr<std::vector<MigrationFile>> files = LoadMigrations(directory);
  if (!files.ok()) return files.status();

  absl::StatusOr<PooledConnection> conn = pool.Acquire();
  if (!conn.ok()) return conn.status();
  // We change session state (statement_timeout) and hold a session lock; closing the connection
  // afterwards undoes both, also on every error path.
  conn->Discard();

  std::vector<int> applied_now;
  const MigrationFile* current = nullptr;
  try {
    const std::string quoted_schema = (*conn)->quote_name(schema);
    const std::string table = quoted_schema + ".schema_migrations";
    const int64_t lock_key = AdvisoryLockKey(schema);
    {
      pqxx::nontransaction session(**conn);
      // Migrations and the wait for another replica's run may legitimately take long.
      session.exec0("SET statement_timeout = 0");
      session.exec_params("SELECT pg_advisory_lock($1)", lock_key);
    }
    {
      pqxx::work tx(**conn);
      tx.exec0("CREATE SCHEMA IF NOT EXISTS " + quoted_schema);
      tx.exec0("CREATE TABLE IF NOT EXISTS " + table +
               " (version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
               " applied_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    }
    std::map<int, AppliedMigration> applied;
    {
      pqxx::nontransaction read(**conn);
      for (const pqxx::row& row : read.exec("SELECT version, name, checksum FROM " + table)) {
        applied[row[0].as<int>()] = AppliedMigration{row[1].as<std::string>(), row[2].as<std::string>()};
      }
    }

    // Validate everything before applying anything.
    for (const MigrationFile& file : *files) {
      auto it = applied.find(file.version);
      if (it != applied.end() && it->second.checksum != file.checksum) {
        return absl::FailedPreconditionError(absl::StrCat(
            "migration ", file.path, " was changed after it was applied to schema ", schema,
            " (checksum ", file.checksum, ", applied ", it->second.checksum,
            "); add a new migration instead of editing an applied one"));
      }
    }
    for (const auto& [version, migration] : applied) {
      bool known = std::any_of(files->begin(), files->end(),
                               [v = version](const MigrationFile& f) { return f.version == v; });
      if (!known) {
        sb::log::Warn("applied migration has no file (newer deployment?)",
                      {{"schema", schema}, {"version", version}, {"name", migration.name}});
      }
    }

    for (const MigrationFile& file : *files) {
      if (applied.count(file.version) > 0) continue;
      current = &file;
      pqxx::work tx(**conn);
      tx.exec0("SET LOCAL search_path TO " + quoted_schema + ", public");
      tx.exec(file.sql);
      tx.exec_params0("INSERT INTO " + table + " (version, name, checksum, applied_at) VALUES ($1, $2, $3, now())",
                      file.version, file.name, file.checksum);
      tx.commit();
      applied_now.push_back(file.version);
      sb::log::Info("applied migration", {{"schema", schema}, {"version", file.version}, {"name", file.name}});
    }
    current = nullptr;
    pqxx::nontransaction session(**conn);
    session.exec_params("SELECT pg_advisory_unlock($1)", lock_key);
  } catch (const std::exception& e) {
    if (IsConnectionFailure(e)) conn->MarkBroken();
    absl::Status status = StatusFromException(e);
    if (current != nullptr) {
      return absl::Status(status.code(), absl::StrCat("migration ", current->path, " failed (schema ", schema,
                                                      "; ", applied_now.size(), " applied before it): ",
                                                      status.message()));
    }
    return absl::Status(status.code(), absl::StrCat("migrating schema ", schema, ": ", status.message()));
  }
  return applied_now;
}

absl::StatusOr<std::unique_ptr<ConnectionPool>> OpenMigrated(const PoolOptions& options, const std::string& schema,
                                                             const std::string& directory) {
  auto pool = std::make_unique<ConnectionPool>(options);
  SB_ASSIGN_OR_RETURN(std::vector<int> applied, ApplyMigrations(*pool, schema, directory));
  sb::log::Info("migrations", {{"schema", schema}, {"dir", directory}, {"applied", static_cast<int64_t>(applied.size())}});
  return pool;
}

}  // namespace sb::db
