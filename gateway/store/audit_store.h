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
  int limit = 50;
};

// Each row as a JSON object (camelCase keys, like the API server's audit events), oldest first
// among the `limit` newest that match.
std::vector<nlohmann::json> list_audit_events(const std::string& database_url, const AuditQuery& query);

// Every row received in [since, until) ("" = open), oldest first, handed to `each` one at a time
// (read in pages: any number of rows in bounded memory). Returns how many.
std::size_t export_audit_events(const std::string& database_url, const std::string& since, const std::string& until,
                                const std::function<void(const nlohmann::json&)>& each);

// The links of one hash chain after `after_seq`, in order, at most `limit`, as audit rows (an
// intent link without its outcome's fields; audit/k8s_audit_event.h makes Events of them).
// `last_seq` gets the last link read.
std::vector<nlohmann::json> chain_rows(pqxx::transaction_base& tx, const std::string& chain_id, std::int64_t after_seq,
                                       int limit, std::int64_t& last_seq);

}  // namespace sluice::gateway::store
