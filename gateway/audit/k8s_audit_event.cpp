#include "gateway/audit/k8s_audit_event.h"

#include <algorithm>

namespace sluice::gateway::audit {

using nlohmann::json;

namespace {
std::string str(const json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : "";
}
}  // namespace

json to_k8s_audit_event(const json& row) {
  const bool complete = row.contains("responseCode") && row["responseCode"].is_number();
  // As kube-apiserver records an authenticated user, and as the cluster sees the impersonated caller.
  json groups = row["user"].value("groups", json::array());
  if (std::find(groups.begin(), groups.end(), "system:authenticated") == groups.end()) groups.push_back("system:authenticated");
  json user = {{"username", row["user"].value("username", "")}, {"groups", groups}};
  if (!row["user"].value("uid", "").empty()) user["uid"] = row["user"]["uid"];
  json e = {{"kind", "Event"},
            {"apiVersion", "audit.k8s.io/v1"},
            {"level", "Metadata"},  // no bodies: #6's recordings hold those, masked
            {"auditID", str(row, "auditID")},
            {"stage", complete ? "ResponseComplete" : "RequestReceived"},
            {"requestURI", str(row, "requestURI")},
            {"verb", str(row, "verb")},
            {"user", user},
            {"sourceIPs", json::array({str(row, "sourceIP")})},
            {"requestReceivedTimestamp", str(row, "receivedAt")},
            {"stageTimestamp", complete && !str(row, "finishedAt").empty() ? str(row, "finishedAt") : str(row, "receivedAt")}};
  // What the cluster saw: the gateway forwards an allowed request as the caller, with
  // Impersonate-User/-Group/-Uid (its own ServiceAccount is the cluster's authenticated user).
  if (str(row, "decision") == "allowed") e["impersonatedUser"] = user;
  if (!str(row, "userAgent").empty()) e["userAgent"] = str(row, "userAgent");
  if (!str(row, "resource").empty()) {
    json ref = {{"resource", str(row, "resource")}};
    for (const auto& [from, to] : {std::pair{"namespace", "namespace"}, {"name", "name"}, {"apiGroup", "apiGroup"},
                                   {"apiVersion", "apiVersion"}, {"subresource", "subresource"}})
      if (!str(row, from).empty()) ref[to] = str(row, from);
    e["objectRef"] = ref;
  }
  if (complete) {
    const int code = row["responseCode"].get<int>();
    json status = {{"metadata", json::object()}, {"code", code}};
    if (code >= 400) status["status"] = "Failure";
    if (str(row, "decision") == "denied") status["message"] = str(row, "decisionReason");
    e["responseStatus"] = status;
  }
  const bool allowed = str(row, "decision") == "allowed";
  json annotations = {{"authorization.k8s.io/decision", allowed ? "allow" : "forbid"},
                      {"authorization.k8s.io/reason", str(row, "decisionReason")},
                      {"sluice.dev/cluster", str(row, "cluster")},
                      {"sluice.dev/decision", str(row, "decision")},
                      {"sluice.dev/auth-method", str(row, "authMethod")}};
  for (const auto& [from, to] : {std::pair{"approvalID", "sluice.dev/approval-id"},
                                 {"kubectlCommand", "sluice.dev/kubectl-command"},
                                 {"kubectlSession", "sluice.dev/kubectl-session"}})
    if (!str(row, from).empty()) annotations[to] = str(row, from);
  // "approved by alice, bob (approval <id>)" names the approvers; a SIEM gets them as a field.
  const std::string reason = str(row, "decisionReason");
  if (reason.rfind("approved by ", 0) == 0) {
    const auto end = reason.find(" (approval ");
    annotations["sluice.dev/approvers"] = reason.substr(12, end == std::string::npos ? std::string::npos : end - 12);
  }
  const auto rule_at = reason.find("Sluice policy rule '");
  if (rule_at != std::string::npos) {
    const auto start = rule_at + 20, end = reason.find('\'', start);
    if (end != std::string::npos) annotations["sluice.dev/rule"] = reason.substr(start, end - start);
  } else if (reason.rfind("allowed by rule ", 0) == 0) {
    annotations["sluice.dev/rule"] = reason.substr(16);
  }
  e["annotations"] = annotations;
  return e;
}

}  // namespace sluice::gateway::audit
