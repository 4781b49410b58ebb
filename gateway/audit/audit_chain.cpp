#include "gateway/audit/audit_chain.h"

#include <pqxx/pqxx>

#include "common/token_compare.h"
#include "gateway/audit/audit_event.h"

namespace sluice::gateway::audit {
namespace {

constexpr const char* kChainFields[] = {"chain_id", "chain_seq", "prev_hash", "row_hash"};

// The stored columns as the writer sent them (audit_row.cpp's intent_row and outcome_row):
// timestamps in to_pg_timestamp's form, NULL approval ids as null.
constexpr const char* kTimestamp = R"(to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00')";

std::string ts(const char* column) {
  std::string out = kTimestamp;
  out.replace(out.find("%s"), 2, column);
  return out;
}

std::string chain_rows_sql() {
  const std::string intent =
      "SELECT 'intent' AS kind, chain_id, chain_seq, prev_hash, row_hash, id::text AS row_id, "
      "(json_build_object('received_at', " + ts("received_at") + ", 'id', id, 'cluster', cluster, 'username', username, "
      "'uid', uid, 'groups', groups, 'auth_method', auth_method, 'source_ip', source_ip, 'user_agent', user_agent, "
      "'kubectl_command', kubectl_command, 'kubectl_session', kubectl_session, 'verb', verb, 'api_group', api_group, "
      "'api_version', api_version, 'resource', resource, 'subresource', subresource, 'namespace', namespace, "
      "'name', name, 'request_uri', request_uri, 'dry_run', dry_run, 'decision', decision, "
      "'decision_reason', decision_reason, 'approval_id', approval_id)::jsonb || CASE WHEN parent_id IS NULL "
      "THEN '{}'::jsonb ELSE jsonb_build_object('parent_id', parent_id) END)::text AS content, received_at "
      "FROM audit_events";
  const std::string outcome =
      "SELECT 'outcome', chain_id, chain_seq, prev_hash, row_hash, id::text, "
      "json_build_object('received_at', " + ts("received_at") + ", 'id', id, 'response_code', response_code, "
      "'duration_ms', duration_ms, 'bytes_in', bytes_in, 'bytes_out', bytes_out, 'finished_at', " +
      ts("finished_at") + ")::text, received_at FROM audit_outcomes";
  return "SELECT * FROM (" + intent + " UNION ALL " + outcome + ") r ";
}

}  // namespace

std::string chain_hash_text(const std::string& prev_hash, std::string_view content) {
  std::string text;
  text.reserve(prev_hash.size() + 1 + content.size());
  text.append(prev_hash).append(1, '\n').append(content);
  return common::sha256_hex(text);
}

std::string chain_hash(const std::string& prev_hash, const nlohmann::json& content) {
  return chain_hash_text(prev_hash, content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

AuditChain::AuditChain() : id_(new_audit_id()) {}

void AuditChain::link(std::string& row) {
  const std::string hash = chain_hash_text(pending_.hash, row);
  row.pop_back();  // the closing brace
  row.append(",\"chain_id\":\"").append(id_).append("\",\"chain_seq\":").append(std::to_string(++pending_.seq));
  row.append(",\"prev_hash\":\"").append(pending_.hash).append("\",\"row_hash\":\"").append(hash).append("\"}");
  pending_.hash = hash;
}

void AuditChain::link(nlohmann::json& row) {
  for (const char* f : kChainFields) row.erase(f);
  const std::string hash = chain_hash(pending_.hash, row);
  row["chain_id"] = id_;
  row["chain_seq"] = ++pending_.seq;
  row["prev_hash"] = pending_.hash;
  row["row_hash"] = hash;
  pending_.hash = hash;
}

ChainReport verify_audit_chain(const std::string& database_url, const std::string& since) {
  pqxx::connection conn(database_url);
  return verify_audit_chain(conn, since);
}

ChainReport verify_audit_chain(pqxx::connection& conn, const std::string& since) {
  ChainReport report;
  {
    pqxx::read_transaction tx(conn);
    std::string where = "chain_id IS NULL";
    if (!since.empty()) where += " AND received_at >= " + tx.quote(since) + "::timestamptz";
    report.unchained = tx.exec1("SELECT (SELECT count(*) FROM audit_events WHERE " + where +
                                ") + (SELECT count(*) FROM audit_outcomes WHERE " + where + ")")[0]
                           .as<std::size_t>();
  }
  // Each chain in sequence order. With --since, a chain is checked from its first row in the window;
  // that row's prev_hash is taken as given.
  std::vector<std::string> chains;
  {
    pqxx::read_transaction tx(conn);
    std::string where = "chain_id IS NOT NULL";
    if (!since.empty()) where += " AND received_at >= " + tx.quote(since) + "::timestamptz";
    for (const auto& row : tx.exec("SELECT DISTINCT chain_id::text FROM (SELECT chain_id, received_at FROM audit_events "
                                   "UNION ALL SELECT chain_id, received_at FROM audit_outcomes) c WHERE " + where +
                                   " ORDER BY 1"))
      chains.push_back(row[0].c_str());
  }
  for (const auto& chain : chains) {
    ++report.chains;
    std::optional<std::int64_t> last_seq;
    std::string last_hash;
    for (;;) {
      pqxx::read_transaction tx(conn);
      std::string where = "chain_id = " + tx.quote(chain) + "::uuid";
      if (last_seq) where += " AND chain_seq > " + std::to_string(*last_seq);
      else if (!since.empty()) where += " AND received_at >= " + tx.quote(since) + "::timestamptz";
      const auto rows = tx.exec(chain_rows_sql() + "WHERE " + where + " ORDER BY chain_seq LIMIT 1000");
      for (const auto& row : rows) {
        const std::string kind = row["kind"].c_str(), id = row["row_id"].c_str();
        const auto seq = row["chain_seq"].as<std::int64_t>();
        const std::string prev = row["prev_hash"].is_null() ? "" : row["prev_hash"].c_str();
        const std::string hash = row["row_hash"].is_null() ? "" : row["row_hash"].c_str();
        const std::string where_text = "chain " + chain + ", link " + std::to_string(seq) + " (" + kind + " " + id + ")";
        if (last_seq && seq != *last_seq + 1) {
          report.broken = "chain " + chain + ": links " + std::to_string(*last_seq + 1) + " to " +
                          std::to_string(seq - 1) + " are missing (deleted rows)";
          return report;
        }
        if (!last_seq && since.empty() && (seq != 1 || !prev.empty())) {
          report.broken = "chain " + chain + ": it starts at link " + std::to_string(seq) + ", not 1 (deleted rows)";
          return report;
        }
        if (last_seq && prev != last_hash) {
          report.broken = where_text + ": its prev_hash is not the hash of the link before it (rewritten links)";
          return report;
        }
        auto content = nlohmann::json::parse(row["content"].c_str());
        // The writer hashed the duration as the double it is (3.0); PostgreSQL prints a whole one as 3.
        if (kind == "outcome" && content["duration_ms"].is_number())
          content["duration_ms"] = content["duration_ms"].get<double>();
        if (chain_hash(prev, content) != hash) {
          report.broken = where_text + ": its content does not match its hash (the row was edited)";
          return report;
        }
        last_seq = seq;
        last_hash = hash;
        ++report.rows;
      }
      if (rows.size() < 1000) break;
    }
  }
  return report;
}

}  // namespace sluice::gateway::audit
