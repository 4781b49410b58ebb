// Reading the audit trail (audit_events) for people: filtered, newest last. Blocking libpqxx;
// used by the CLI, never from an Asio thread.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/transaction_base>

#include <cstdint>

namespace sluice::gateway::store {

struct AuditQuery {
  std::string cluster, user, verb, resource, namespace_name;  // "" = any; resource may be "pods/exec"
  std::string since;                                          // timestamptz text; "" = any time
  std::string until;                                          // received before this; "" = now
  int limit = 50;
};

// One page of a search, newest first. `next` continues it (keyset: the last row's received_at and
// id, opaque to callers); "" when this was the last page.
struct AuditPage {
  std::vector<nlohmann::json> items;
  std::string next;
};
// `after` "" = the first page. Throws std::invalid_argument on a malformed cursor.
AuditPage search_audit_events(pqxx::transaction_base& tx, const AuditQuery& query, const std::string& after);

// Each row as a JSON object (camelCase keys, like the API server's audit events), oldest first
// among the `limit` newest that match.
std::vector<nlohmann::json> list_audit_events(const std::string& database_url, const AuditQuery& query);

// Every row received in [since, until) ("" = open), oldest first, handed to `each` one at a time
// (read in pages: any number of rows in bounded memory). Returns how many.
std::size_t export_audit_events(const std::string& database_url, const std::string& since, const std::string& until,
                                const std::function<void(const nlohmann::json&)>& each);
// One page of that export after the cursor `after` ("" = from the start); `after` becomes the
// cursor of the page's last row. Fewer than `limit` rows: the export is complete.
std::vector<nlohmann::json> export_page(pqxx::transaction_base& tx, const std::string& since, const std::string& until,
                                        std::string& after, int limit);

// The links of one hash chain after `after_seq`, in order, at most `limit`, as audit rows (an
// intent link without its outcome's fields; audit/k8s_audit_event.h makes Events of them).
// `last_seq` gets the last link read.
std::vector<nlohmann::json> chain_rows(pqxx::transaction_base& tx, const std::string& chain_id, std::int64_t after_seq,
                                       int limit, std::int64_t& last_seq);

}  // namespace sluice::gateway::store
