// LastSeenStore: the `presence` schema (libpqxx behind sb::db). Blocking: call from a BlockingPool
// thread. Thread-safe.
#pragma once

#include "sb/db/pool.h"
#include "services/presence/ports.h"

namespace sb::presence {

class LastSeenStore : public LastSeenRepository {
 public:
  explicit LastSeenStore(sb::db::ConnectionPool& pool) : pool_(pool) {}

  // One INSERT ... ON CONFLICT statement for the whole batch; a stored later value is kept.
  absl::Status Upsert(const std::vector<std::pair<std::string, int64_t>>& entries) override;
  absl::StatusOr<std::map<std::string, int64_t>> Get(const std::vector<std::string>& users) override;

 private:
  sb::db::ConnectionPool& pool_;
};

}  // namespace sb::presence
