#include "gateway/store/migrator.h"

#include <pqxx/pqxx>

#include <map>
#include <stdexcept>

#include "common/token_compare.h"

namespace sluice::gateway::store {
namespace {
// Arbitrary but fixed: every Sluice gateway takes this lock to migrate ("sluice" in ASCII).
constexpr long long kMigrationLockKey = 0x736c75696365;
}  // namespace

MigrationReport migrate(const std::string& database_url, const std::vector<Migration>& migrations) {
  MigrationReport report;
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(database_url);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot connect to the database: ") + e.what());
  }
  pqxx::work tx(*conn, "migrate");
  // The lock comes first: even CREATE TABLE IF NOT EXISTS races between two sessions.
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version integer PRIMARY KEY,"
      " name text NOT NULL,"
      " sha256 text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  std::map<int, std::string> applied;
  for (const auto& row : tx.exec("SELECT version, sha256 FROM schema_migrations"))
    applied[row[0].as<int>()] = row[1].as<std::string>();

  for (const auto& m : migrations) {
    const std::string digest = common::sha256_hex(m.sql);
    if (auto it = applied.find(m.version); it != applied.end()) {
      if (it->second != digest)
        throw std::runtime_error("migration " + std::to_string(m.version) + "_" + m.name +
                                 " was changed after it was applied; add a new migration instead");
      continue;
    }
    try {
      tx.exec(m.sql);
    } catch (const std::exception& e) {
      throw std::runtime_error("migration " + std::to_string(m.version) + "_" + m.name +
                               " failed: " + e.what());
    }
    tx.exec_params("INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
                   m.version, m.name, digest);
    report.applied.push_back(m.version);
  }
  report.schema_version = tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int>();
  tx.commit();
  return report;
}

}  // namespace sluice::gateway::store
