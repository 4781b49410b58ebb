// Audit rows as audit.k8s.io/v1 Events: the fields kube-apiserver's audit backends write.
#include <doctest/doctest.h>

#include "gateway/audit/k8s_audit_event.h"

using nlohmann::json;
using sluice::gateway::audit::to_k8s_audit_event;

TEST_CASE("an audit row becomes an audit.k8s.io/v1 Event") {
  const json row = {{"auditID", "5921a31f-48b9-440e-8d46-6e13a071b049"},
                    {"receivedAt", "2026-12-02T01:02:03.000004Z"},
                    {"cluster", "prod"},
                    {"user", {{"username", "automation-bot"}, {"uid", "uid-bot"}, {"groups", {"ci"}}}},
                    {"authMethod", "oidc"},
                    {"sourceIP", "10.1.2.3"},
                    {"userAgent", "kubectl/v1.32.4"},
                    {"kubectlCommand", "kubectl create clusterrolebinding"},
                    {"kubectlSession", "s-1"},
                    {"verb", "create"},
                    {"apiGroup", "rbac.authorization.k8s.io"},
                    {"apiVersion", "v1"},
                    {"resource", "clusterrolebindings"},
                    {"subresource", ""},
                    {"namespace", ""},
                    {"name", ""},
                    {"requestURI", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"},
                    {"decision", "allowed"},
                    {"decisionReason", "approved by alice, bob (approval 0f0e0000-0000-4000-8000-000000000000)"},
                    {"approvalID", "0f0e0000-0000-4000-8000-000000000000"},
                    {"responseCode", 201},
                    {"finishedAt", "2026-12-02T01:02:04.500000Z"}};
  const auto e = to_k8s_audit_event(row);
  CHECK(e["kind"] == "Event");
  CHECK(e["apiVersion"] == "audit.k8s.io/v1");
  CHECK(e["stage"] == "ResponseComplete");
  CHECK(e["user"] == json{{"username", "automation-bot"}, {"uid", "uid-bot"}, {"groups", {"ci", "system:authenticated"}}});
  CHECK(e["impersonatedUser"] == e["user"]);  // forwarded as the caller
  CHECK(e["sourceIPs"] == json::array({"10.1.2.3"}));
  CHECK(e["objectRef"] ==
        json{{"resource", "clusterrolebindings"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"apiVersion", "v1"}});
  CHECK(e["responseStatus"] == json{{"metadata", json::object()}, {"code", 201}});
  CHECK(e["requestReceivedTimestamp"] == "2026-12-02T01:02:03.000004Z");
  CHECK(e["stageTimestamp"] == "2026-12-02T01:02:04.500000Z");
  CHECK(e["annotations"]["authorization.k8s.io/decision"] == "allow");
  CHECK(e["annotations"]["sluice.dev/approvers"] == "alice, bob");
  CHECK(e["annotations"]["sluice.dev/approval-id"] == "0f0e0000-0000-4000-8000-000000000000");
  CHECK(e["annotations"]["sluice.dev/cluster"] == "prod");

  auto denied = row;
  denied["decision"] = "denied";
  denied["decisionReason"] = "protected (Sluice policy rule 'protected-configmaps')";
  denied["responseCode"] = 403;
  const auto d = to_k8s_audit_event(denied);
  CHECK_FALSE(d.contains("impersonatedUser"));  // never forwarded
  CHECK(d["responseStatus"]["status"] == "Failure");
  CHECK(d["responseStatus"]["message"] == "protected (Sluice policy rule 'protected-configmaps')");
  CHECK(d["annotations"]["authorization.k8s.io/decision"] == "forbid");
  CHECK(d["annotations"]["sluice.dev/rule"] == "protected-configmaps");

  auto open = row;
  open["responseCode"] = nullptr;
  open["finishedAt"] = nullptr;
  open["resource"] = "";
  const auto o = to_k8s_audit_event(open);
  CHECK(o["stage"] == "RequestReceived");
  CHECK(o["stageTimestamp"] == "2026-12-02T01:02:03.000004Z");
  CHECK_FALSE(o.contains("responseStatus"));
  CHECK_FALSE(o.contains("objectRef"));
}
