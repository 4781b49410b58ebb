#include "gateway/store/cluster_store.h"

#include <pqxx/pqxx>

#include "common/token_compare.h"

namespace sluice::gateway::store {

ClusterStore::ClusterStore(std::string database_url) : url_(std::move(database_url)) {}
ClusterStore::~ClusterStore() = default;

pqxx::connection& ClusterStore::conn() {
  if (borrowed_) return *borrowed_;
  if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(url_);
  return *conn_;
}

std::string ClusterStore::add(const std::string& name, bool rotate) {
  const std::string token = "sluice-agent-" + common::random_token_hex(32);
  std::lock_guard lock(mu_);
  pqxx::work tx(conn());
  const std::string sql = rotate
      ? "INSERT INTO clusters (name, agent_token_sha256) VALUES ($1, $2) "
        "ON CONFLICT (name) DO UPDATE SET agent_token_sha256 = EXCLUDED.agent_token_sha256"
      : "INSERT INTO clusters (name, agent_token_sha256) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
  auto r = tx.exec_params(sql, name, common::sha256_hex(token));
  if (r.affected_rows() == 0) throw std::runtime_error("cluster " + name + " already exists (use --rotate for a new token)");
  tx.commit();
  return token;
}

bool ClusterStore::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  pqxx::work tx(conn());
  auto r = tx.exec_params("DELETE FROM clusters WHERE name = $1", name);
  tx.commit();
  return r.affected_rows() > 0;
}

std::vector<ClusterRecord> ClusterStore::list() {
  std::lock_guard lock(mu_);
  pqxx::read_transaction tx(conn());
  std::vector<ClusterRecord> out;
  for (const auto& row : tx.exec(
           "SELECT name, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
           "to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), agent_version, "
           "coalesce(last_seen > now() - interval '30 seconds', false) FROM clusters ORDER BY name")) {
    ClusterRecord c;
    c.name = row[0].as<std::string>();
    c.created_at = row[1].as<std::string>();
    if (!row[2].is_null()) c.last_seen = row[2].as<std::string>();
    if (!row[3].is_null()) c.agent_version = row[3].as<std::string>();
    c.connected = row[4].as<bool>();
    out.push_back(std::move(c));
  }
  return out;
}

bool ClusterStore::exists(const std::string& name) {
  std::lock_guard lock(mu_);
  pqxx::read_transaction tx(conn());
  return !tx.exec_params("SELECT 1 FROM clusters WHERE name = $1", name).empty();
}

bool ClusterStore::verify_agent_token(const std::string& name, const std::string& token) {
  std::lock_guard lock(mu_);
  pqxx::read_transaction tx(conn());
  auto r = tx.exec_params("SELECT agent_token_sha256 FROM clusters WHERE name = $1", name);
  // An unknown cluster costs the same comparison as a wrong token.
  const std::string stored = r.empty() ? std::string(64, '0') : r[0][0].as<std::string>();
  return common::constant_time_equals(common::sha256_hex(token), stored) && !r.empty();
}

void ClusterStore::record_check_in(const std::string& name, const std::string& agent_version) {
  std::lock_guard lock(mu_);
  pqxx::work tx(conn());
  tx.exec_params("UPDATE clusters SET last_seen = now(), agent_version = $2 WHERE name = $1", name, agent_version);
  tx.commit();
}

}  // namespace sluice::gateway::store
