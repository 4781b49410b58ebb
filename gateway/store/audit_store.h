// Reading the audit trail (audit_events) for people: filtered, newest last. Blocking libpqxx;
// used by the CLI, never from an Asio thread.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::gateway::store {

struct AuditQuery {
  std::string cluster, user, verb, resource, namespace_name;  // "" = any; resource may be "pods/exec"
  std::string since;                                          // timestamptz text; "" = any time
  int limit = 50;
};

// Each row as a JSON object (camelCase keys, like the API server's audit events), oldest first
// among the `limit` newest that match.
std::vector<nlohmann::json> list_audit_events(const std::string& database_url, const AuditQuery& query);

}  // namespace sluice::gateway::store
