#include "gateway/store/audit_store.h"

#include <pqxx/pqxx>


#include <algorithm>
#include <stdexcept>

namespace sluice::gateway::store {
namespace {

// Every column of audit_log a reader sees, in the order row_json reads them.
constexpr const char* kAuditColumns =
    "id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), cluster, username, uid, "
    "array_to_json(groups), auth_method, source_ip, user_agent, kubectl_command, kubectl_session, verb, api_group, "
    "api_version, resource, subresource, namespace, name, request_uri, dry_run, decision, decision_reason, "
    "response_code, duration_ms, bytes_in, bytes_out, "
    "to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), coalesce(approval_id::text, ''), "
    "received_at";
constexpr int kCursorColumn = 28;  // received_at as PostgreSQL prints it: the export's keyset cursor

nlohmann::json row_json(const pqxx::row& row) {
  const auto groups = nlohmann::json::parse(row[5].c_str());
  auto opt = [&](int i) { return row[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[i].c_str()); };
  auto num = [&](int i) { return row[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[i].as<double>()); };
  auto count = [&](int i) { return row[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[i].as<long long>()); };
  return nlohmann::json({{"auditID", row[0].c_str()},
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

}  // namespace

namespace {
// The WHERE clause of audit list's filters (values quoted by the transaction).
std::string audit_filter(pqxx::transaction_base& tx, const AuditQuery& q) {
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
  if (!q.until.empty()) where += " AND received_at < " + tx.quote(q.until) + "::timestamptz";
  return where;
}

// Keyset paging in (received_at, id) order: a row's cursor, and the condition for rows past one
// (`op` "<" newest first, ">" oldest first). Throws std::invalid_argument on a malformed cursor.
std::string cursor_of(const pqxx::row& row) { return std::string(row[kCursorColumn].c_str()) + "|" + row[0].c_str(); }

std::string past_cursor(pqxx::transaction_base& tx, const std::string& cursor, const char* op) {
  const auto bar = cursor.find('|');
  if (bar == std::string::npos) throw std::invalid_argument("malformed cursor");
  return std::string(" AND (received_at, id) ") + op + " (" + tx.quote(cursor.substr(0, bar)) + "::timestamptz, " +
         tx.quote(cursor.substr(bar + 1)) + "::uuid)";
}
}  // namespace

std::vector<nlohmann::json> list_audit_events(const std::string& database_url, const AuditQuery& q) {
  pqxx::connection conn(database_url);
  pqxx::read_transaction tx(conn);
  const std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit_log WHERE " + audit_filter(tx, q) +
                          " ORDER BY received_at DESC, id DESC LIMIT " + std::to_string(q.limit);
  std::vector<nlohmann::json> out;
  for (const auto& row : tx.exec(sql)) out.push_back(row_json(row));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<nlohmann::json> export_page(pqxx::transaction_base& tx, const std::string& since, const std::string& until,
                                        std::string& after, int limit) {
  AuditQuery window;
  window.since = since;
  window.until = until;
  std::string where = audit_filter(tx, window);
  if (!after.empty()) where += past_cursor(tx, after, ">");
  const auto rows = tx.exec(std::string("SELECT ") + kAuditColumns + " FROM audit_log WHERE " + where +
                            " ORDER BY received_at, id LIMIT " + std::to_string(limit));
  std::vector<nlohmann::json> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(row_json(row));
  if (!rows.empty()) after = cursor_of(rows.back());
  return out;
}

std::size_t export_audit_events(const std::string& database_url, const std::string& since, const std::string& until,
                                const std::function<void(const nlohmann::json&)>& each) {
  pqxx::connection conn(database_url);
  std::size_t n = 0;
  // Keyset pages in (received_at, id) order, each its own short transaction: memory stays at one
  // page, and no snapshot is held open for the whole export.
  std::string after;
  for (;;) {
    pqxx::read_transaction tx(conn);
    const auto rows = export_page(tx, since, until, after, 1000);
    for (const auto& row : rows) each(row);
    n += rows.size();
    if (rows.size() < 1000) return n;
  }
}

AuditPage search_audit_events(pqxx::transaction_base& tx, const AuditQuery& q, const std::string& after) {
  std::string where = audit_filter(tx, q);
  if (!after.empty()) where += past_cursor(tx, after, "<");  // the previous page's last row
  // One row more than asked tells whether another page follows.
  const auto rows = tx.exec(std::string("SELECT ") + kAuditColumns + " FROM audit_log WHERE " + where +
                            " ORDER BY received_at DESC, id DESC LIMIT " + std::to_string(q.limit + 1));
  AuditPage page;
  for (const auto& row : rows) {
    if (static_cast<int>(page.items.size()) == q.limit) {
      page.next = cursor_of(rows[static_cast<pqxx::result::size_type>(q.limit - 1)]);
      break;
    }
    page.items.push_back(row_json(row));
  }
  return page;
}

}  // namespace sluice::gateway::store

namespace sluice::gateway::store {

std::vector<nlohmann::json> chain_rows(pqxx::transaction_base& tx, const std::string& chain_id, std::int64_t after_seq,
                                       int limit, std::int64_t& last_seq) {
  const auto rows = tx.exec_params(
      std::string("SELECT ") + kAuditColumns + ", x.kind, x.chain_seq FROM (SELECT 'intent' AS kind, chain_seq, "
      "received_at, id FROM audit_events WHERE chain_id = $1::uuid AND chain_seq > $2 UNION ALL SELECT 'outcome', "
      "chain_seq, received_at, id FROM audit_outcomes WHERE chain_id = $1::uuid AND chain_seq > $2) x "
      "JOIN audit_log USING (received_at, id) ORDER BY x.chain_seq LIMIT $3",
      chain_id, after_seq, limit);
  std::vector<nlohmann::json> events;
  for (const auto& row : rows) {
    auto r = row_json(row);
    if (std::string(row[kCursorColumn + 1].c_str()) == "intent")
      for (const char* k : {"responseCode", "durationMs", "bytesIn", "bytesOut", "finishedAt"}) r[k] = nullptr;
    events.push_back(std::move(r));
    last_seq = row[kCursorColumn + 2].as<std::int64_t>();
  }
  return events;
}

}  // namespace sluice::gateway::store
