// Schema migrations: numbered SQL files applied in one transaction under an advisory lock.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::store {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migrations compiled into this binary (generated from migrations/*.sql), in order.
const std::vector<Migration>& embedded_migrations();

struct MigrationReport {
  std::vector<int> applied;  // versions applied by this run
  int schema_version = 0;    // highest version present afterwards
};

// Applies what is missing. Several gateways may call this at once: the advisory lock
// serialises them and the later ones find nothing left to do. Throws std::runtime_error
// with an actionable message (unreachable database, an applied migration that was edited).
MigrationReport migrate(const std::string& database_url, const std::vector<Migration>& migrations);

}  // namespace sluice::gateway::store
