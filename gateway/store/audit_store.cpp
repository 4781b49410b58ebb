#include "gateway/store/audit_store.h"

#include <pqxx/pqxx>

#include <algorithm>

namespace sluice::gateway::store {

std::vector<nlohmann::json> list_audit_events(const std::string& database_url, const AuditQuery& q) {
  pqxx::connection conn(database_url);
  pqxx::read_transaction tx(conn);
  std::string where = "TRUE";
  auto text_filter = [&](const std::string& column, const std::string& value) {
    if (!value.empty()) where += " AND " + column + " = " + tx.quote(value);
  };
  text_filter("cluster", q.cluster);
  text_filter("username", q.user);
  text_filter("verb", q.verb);
  text_filter("namespace", q.namespace_name);
  if (!q.resource.empty()) {
    const auto slash = q.resource.find('/');
    text_filter("resource", q.resource.substr(0, slash));
    if (slash != std::string::npos) text_filter("subresource", q.resource.substr(slash + 1));
  }
  if (!q.since.empty()) where += " AND received_at >= " + tx.quote(q.since) + "::timestamptz";
  const std::string sql =
      "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), cluster, username, uid, "
      "array_to_json(groups), auth_method, source_ip, user_agent, kubectl_command, kubectl_session, verb, api_group, api_version, "
      "resource, subresource, namespace, name, request_uri, dry_run, decision, decision_reason, response_code, "
      "duration_ms, bytes_in, bytes_out, "
      "to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), coalesce(approval_id::text, '') "
      "FROM audit_log WHERE " + where + " ORDER BY received_at DESC, id DESC LIMIT " + std::to_string(q.limit);
  std::vector<nlohmann::json> out;
  for (const auto& row : tx.exec(sql)) {
    const auto groups = nlohmann::json::parse(row[5].c_str());
    auto opt = [&](int i) { return row[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[i].c_str()); };
    auto num = [&](int i) { return row[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[i].as<double>()); };
    auto count = [&](int i) { return row[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[i].as<long long>()); };
    out.push_back({{"auditID", row[0].c_str()},
                   {"receivedAt", row[1].c_str()},
                   {"cluster", row[2].c_str()},
                   {"user", {{"username", row[3].c_str()}, {"uid", row[4].c_str()}, {"groups", groups}}},
                   {"authMethod", row[6].c_str()},
                   {"sourceIP", row[7].c_str()},
                   {"userAgent", row[8].c_str()},
                   {"kubectlCommand", row[9].c_str()},
                   {"kubectlSession", row[10].c_str()},
                   {"verb", row[11].c_str()},
                   {"apiGroup", row[12].c_str()},
                   {"apiVersion", row[13].c_str()},
                   {"resource", row[14].c_str()},
                   {"subresource", row[15].c_str()},
                   {"namespace", row[16].c_str()},
                   {"name", row[17].c_str()},
                   {"requestURI", row[18].c_str()},
                   {"dryRun", row[19].as<bool>()},
                   {"decision", row[20].c_str()},
                   {"decisionReason", row[21].c_str()},
                   {"approvalID", row[27].c_str()},
                   {"responseCode", row[22].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[22].as<int>())},
                   {"durationMs", num(23)},
                   {"bytesIn", count(24)},
                   {"bytesOut", count(25)},
                   {"finishedAt", opt(26)}});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace sluice::gateway::store
