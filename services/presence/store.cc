#include "services/presence/store.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sb/db/arrays.h"
#include "sb/db/transaction.h"

namespace sb::presence {

absl::Status LastSeenStore::Upsert(const std::vector<std::pair<std::string, int64_t>>& entries) {
  if (entries.empty()) return absl::OkStatus();
  std::vector<std::string> users;
  std::vector<int64_t> times;
  for (const auto& [user, ms] : entries) {
    users.push_back(user);
    times.push_back(ms);
  }
  const std::string user_array = sb::db::TextArray(users);
  const std::string time_array = absl::StrCat("{", absl::StrJoin(times, ","), "}");
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    // DISTINCT ON: a user twice in one batch would make ON CONFLICT touch a row twice (an error).
    tx.exec_params(
        "INSERT INTO presence.last_seen (user_id, last_seen_at) "
        "SELECT DISTINCT ON (u) u, to_timestamp(ms / 1000.0) "
        "FROM unnest($1::text[], $2::bigint[]) AS t(u, ms) ORDER BY u, ms DESC "
        "ON CONFLICT (user_id) DO UPDATE SET "
        "  last_seen_at = GREATEST(last_seen.last_seen_at, EXCLUDED.last_seen_at), updated_at = now()",
        user_array, time_array);
  });
}

absl::StatusOr<std::map<std::string, int64_t>> LastSeenStore::Get(const std::vector<std::string>& users) {
  std::map<std::string, int64_t> out;
  if (users.empty()) return out;
  const std::string user_array = sb::db::TextArray(users);
  absl::Status status = sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        out.clear();
        auto rows = tx.exec_params(
            "SELECT user_id, (extract(epoch from last_seen_at) * 1000)::bigint FROM presence.last_seen "
            "WHERE user_id = ANY($1::text[])",
            user_array);
        for (const auto& r : rows) out[r[0].as<std::string>()] = r[1].as<int64_t>();
      },
      {.read_only = true});
  if (!status.ok()) return status;
  return out;
}

}  // namespace sb::presence
