// An audit row as a Kubernetes audit.k8s.io/v1 Event, the format kube-apiserver's audit log and
// webhook backends write, so SIEM pipelines built for API-server audit logs take Sluice's trail
// unchanged. Sluice's own facts (cluster, decision, rule, approval, authentication) ride in
// annotations, as admission and authorization add theirs. Pure.
#pragma once
#include <nlohmann/json.hpp>

namespace sluice::gateway::audit {

// `row` is one object of store::list_audit_events / export_audit_events.
nlohmann::json to_k8s_audit_event(const nlohmann::json& row);

}  // namespace sluice::gateway::audit
