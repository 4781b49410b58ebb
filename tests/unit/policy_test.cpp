// The policy: globs, the loader's refusals (with line and column), RBAC-style matching, conditions
// over real manifests, strictness order, and the shipped default policy against the seed's list.
#include <doctest/doctest.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/request_info.h"
#include "gateway/policy/conditions.h"
#include "common/glob.h"
#include "gateway/policy/kubectl_request.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/policy/policy_loader.h"

using namespace sluice::gateway::policy;
using sluice::gateway::Identity;
using nlohmann::json;

namespace {

Policy parse_ok(const std::string& yaml) {
  std::string error;
  auto p = parse_policy(yaml, "test.yaml", error);
  INFO(error);
  REQUIRE(p);
  return *p;
}

std::string parse_error(const std::string& yaml) {
  std::string error;
  auto p = parse_policy(yaml, "test.yaml", error);
  CHECK_FALSE(p);
  return error;
}

struct Ask {
  std::string method, target;
  std::string cluster = "prod";
  Identity who{"bot", "", {"ci"}, {}, "static-token"};
};

Decision decide(const PolicyEngine& engine, const Ask& a, const Evidence& ev = {}) {
  const auto c = sluice::common::classify_request(a.method, a.target);
  REQUIRE(c.ok());
  return engine.evaluate({a.cluster, a.who, c.info}, ev);
}

// The shipped default-policy.yaml.
Policy default_policy() {
  std::string error;
  auto loaded = load_policy_file(std::string(SLUICE_SOURCE_DIR) + "/gateway/policy/default-policy.yaml", error);
  INFO(error);
  REQUIRE(loaded);
  return std::move(*loaded);
}

std::string rule_of(const Decision& d) { return d.rule ? d.rule->name : "(default)"; }

// Manifests as kubectl sends them.
const json kPrivilegedPod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"node-shell"},
  "spec":{"hostPID":false,"containers":[{"name":"sh","image":"busybox",
  "securityContext":{"privileged":true}}]}})");
const json kPlainPod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0"},
  "spec":{"containers":[{"name":"web","image":"nginx","securityContext":{"runAsNonRoot":true}}]}})");
const json kDaemonSetHostPath = json::parse(R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},
  "spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
  "spec":{"volumes":[{"name":"root","hostPath":{"path":"/"}}],"containers":[{"name":"a","image":"x"}]}}}})");
const json kCronJobCaps = json::parse(R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},
  "spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never",
  "initContainers":[{"name":"i","image":"x","securityContext":{"capabilities":{"add":["CAP_SYS_ADMIN"]}}}],
  "containers":[{"name":"c","image":"x"}]}}}}}})");
const json kAdminBinding = json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
  "metadata":{"name":"bot-admin","namespace":"shop"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io",
  "kind":"ClusterRole","name":"admin"},"subjects":[{"kind":"User","name":"bot"}]})");
const json kViewBinding = json::parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
  "metadata":{"name":"bot-view","namespace":"shop"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io",
  "kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"bot"}]})");
const json kProductionNs = json::parse(R"({"apiVersion":"v1","kind":"Namespace",
  "metadata":{"name":"shop","labels":{"environment":"production","team":"web"}}})");
const json kStagingNs = json::parse(R"({"apiVersion":"v1","kind":"Namespace",
  "metadata":{"name":"shop","labels":{"environment":"staging"}}})");

}  // namespace

TEST_CASE("policy: globs") {
  CHECK(glob_match("*", ""));
  CHECK(glob_match("system:*", "system:serviceaccount:kube-system:default"));
  CHECK_FALSE(glob_match("system:*", "alice"));
  CHECK(glob_match("*-admin", "cluster-admin"));
  CHECK(glob_match("a?c", "abc"));
  CHECK_FALSE(glob_match("a?c", "ac"));
  CHECK(glob_match("*a*b", "xxaxxab"));
  CHECK_FALSE(glob_match("*a*a*a*a*a*b", std::string(200, 'a')));  // no exponential backtracking
  NameList l({"kube-system", "team-*"});
  CHECK(l.matches("kube-system"));
  CHECK(l.matches("team-web"));
  CHECK_FALSE(l.matches("default"));
  CHECK(NameList().matches("anything"));
}

TEST_CASE("policy: durations") {
  CHECK(parse_duration("90s") == std::chrono::seconds(90));
  CHECK(parse_duration("10m") == std::chrono::seconds(600));
  CHECK(parse_duration("1h30m") == std::chrono::seconds(5400));
  CHECK(parse_duration("2d") == std::chrono::seconds(172800));
  CHECK_FALSE(parse_duration("10"));
  CHECK_FALSE(parse_duration("m10"));
  CHECK_FALSE(parse_duration("10m "));
  CHECK_FALSE(parse_duration(""));
}

TEST_CASE("policy: the loader refuses mistakes and says where they are") {
  CHECK(parse_error("rules:\n  - name: a\n    match: {verb: [delete]}\n    action: deny\n") ==
        "test.yaml:3:13: unknown key 'verb' in match (known: apiGroups, clusters, groups, names, namespaces, "
        "nonResourceURLs, resources, users, verbs)");
  CHECK(parse_error("rules:\n  - name: a\n    action: block\n") ==
        "test.yaml:3:13: action must be allow, deny or approve, not 'block'");
  CHECK(parse_error("rules:\n  - name: a\n    action: approve\n").find("needs approval.approvers") !=
        std::string::npos);
  CHECK(parse_error("rules:\n  - name: a\n    action: approve\n    approval: {approvers: {groups: [x]}, "
                    "timeout: soon}\n")
            .find("test.yaml:4:51: approval.timeout must be a duration") == 0);
  CHECK(parse_error("rules:\n  - name: a\n    action: deny\n  - name: a\n    action: allow\n") ==
        "test.yaml:4:11: two rules are named 'a'");
  CHECK(parse_error("rules:\n  - name: a\n    match: {verbs: [exec]}\n    action: deny\n").find("unknown verb 'exec'") !=
        std::string::npos);
  CHECK(parse_error("rules:\n  - name: a\n    match: {namespaces: []}\n    action: deny\n")
            .find("empty list, which would match nothing") != std::string::npos);
  CHECK(parse_error("rules:\n  - name: a\n    when: {privileged: yes-please}\n    action: deny\n")
            .find("when.privileged must be true or false") != std::string::npos);
  CHECK(parse_error("rules: [\n").find("test.yaml:") == 0);  // a YAML syntax error keeps its place too
  CHECK(parse_error("").find("the policy is empty") != std::string::npos);
}

TEST_CASE("policy: matching follows RBAC's reading of resources and subresources") {
  const PolicyEngine engine(parse_ok(R"(
rules:
  - name: pods-only
    match: {resources: [pods], verbs: [delete]}
    action: deny
  - name: any-exec
    match: {resources: ["*/exec"]}
    action: approve
    approval: {approvers: {users: [rev]}}
  - name: sa-in-team
    match: {users: ["system:serviceaccount:*"], namespaces: ["team-*"], verbs: [create]}
    action: deny
    message: service accounts do not create things here
)"));
  CHECK(rule_of(decide(engine, {"DELETE", "/api/v1/namespaces/a/pods/x"})) == "pods-only");
  CHECK(rule_of(decide(engine, {"DELETE", "/api/v1/namespaces/a/pods/x/ephemeralcontainers"})) == "(default)");
  CHECK(rule_of(decide(engine, {"POST", "/api/v1/namespaces/a/pods/x/exec?command=sh"})) == "any-exec");
  CHECK(rule_of(decide(engine, {"GET", "/api/v1/namespaces/a/pods/x/exec?command=sh"})) == "any-exec");  // KEP-4006
  Ask sa{"POST", "/api/v1/namespaces/team-web/configmaps"};
  sa.who.user = "system:serviceaccount:ci:deployer";
  const auto d = decide(engine, sa);
  CHECK(d.action == Action::deny);
  CHECK(d.message == "service accounts do not create things here");
  sa.target = "/api/v1/namespaces/default/configmaps";
  CHECK(decide(engine, sa).action == Action::allow);
  CHECK(decide(engine, {"GET", "/version"}).action == Action::allow);  // non-resource: no resource rule applies
}

TEST_CASE("policy: the strictest applicable rule wins, then the default") {
  const PolicyEngine engine(parse_ok(R"(
defaultAction: deny
rules:
  - name: reads
    match: {verbs: [get, list, watch]}
    action: allow
  - name: secrets-need-approval
    match: {resources: [secrets]}
    action: approve
    approval: {approvers: {groups: [sec]}, minApprovals: 2, timeout: 5m, mode: async}
  - name: no-secrets-in-kube-system
    match: {resources: [secrets], namespaces: [kube-system]}
    action: deny
)"));
  CHECK(rule_of(decide(engine, {"GET", "/api/v1/namespaces/a/configmaps"})) == "reads");
  const auto approve = decide(engine, {"GET", "/api/v1/namespaces/a/secrets/s"});
  CHECK(approve.action == Action::approve);
  CHECK(rule_of(approve) == "secrets-need-approval");
  CHECK(approve.rule->approval.min_approvals == 2);
  CHECK(approve.rule->approval.timeout == std::chrono::minutes(5));
  CHECK(approve.rule->approval.mode == ApprovalMode::async);
  CHECK(rule_of(decide(engine, {"GET", "/api/v1/namespaces/kube-system/secrets/s"})) == "no-secrets-in-kube-system");
  const auto dflt = decide(engine, {"POST", "/api/v1/namespaces/a/configmaps"});
  CHECK(dflt.action == Action::deny);
  CHECK(dflt.rule == nullptr);
}

TEST_CASE("policy: conditions over real manifests") {
  ConditionSet priv;
  priv.privileged = true;
  CHECK(object_conditions_hold(priv, kPrivilegedPod));
  CHECK_FALSE(object_conditions_hold(priv, kPlainPod));
  ConditionSet not_priv;
  not_priv.privileged = false;
  CHECK(object_conditions_hold(not_priv, kPlainPod));
  ConditionSet host_path;
  host_path.host_path = true;
  CHECK(object_conditions_hold(host_path, kDaemonSetHostPath));
  CHECK_FALSE(object_conditions_hold(host_path, kPlainPod));
  ConditionSet caps;
  caps.added_capabilities = {"SYS_ADMIN", "NET_ADMIN"};
  CHECK(object_conditions_hold(caps, kCronJobCaps));  // CAP_ prefix, init container, CronJob template
  caps.added_capabilities = {"NET_RAW"};
  CHECK_FALSE(object_conditions_hold(caps, kCronJobCaps));
  ConditionSet grants;
  grants.grants_role = {"admin", "cluster-admin"};
  CHECK(object_conditions_hold(grants, kAdminBinding));
  CHECK_FALSE(object_conditions_hold(grants, kViewBinding));
  // A strategic-merge patch carries only what it changes, and no kind.
  CHECK(object_conditions_hold(priv, json::parse(R"({"spec":{"template":{"spec":{"containers":[
      {"name":"a","securityContext":{"privileged":true}}]}}}})")));
  ConditionSet windows;
  windows.host_process = true;
  CHECK(object_conditions_hold(windows, json::parse(R"({"kind":"Pod","spec":{"securityContext":{"windowsOptions":
      {"hostProcess":true}},"containers":[{"name":"a"}]}})")));
  CHECK(object_conditions_hold(windows, json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"a",
      "securityContext":{"windowsOptions":{"hostProcess":true}}}]}}}})")));
  CHECK_FALSE(object_conditions_hold(windows, kPlainPod));
  ConditionSet outside;
  outside.capabilities_outside = {"CHOWN", "NET_BIND_SERVICE"};
  CHECK(object_conditions_hold(outside, kCronJobCaps));
  const auto adds = [](const char* caps) {
    return json::parse(std::string(R"({"spec":{"containers":[{"name":"a","securityContext":{"capabilities":{"add":)") +
                       caps + "}}}]}}");
  };
  CHECK_FALSE(object_conditions_hold(outside, adds(R"(["chown","CAP_NET_BIND_SERVICE"])")));
  CHECK(object_conditions_hold(outside, adds(R"(["CHOWN","ALL"])")));
  CHECK(object_conditions_hold(outside, adds(R"([7])")));  // not a name: cannot be vouched for
  CHECK_FALSE(object_conditions_hold(outside, kPlainPod));
  ConditionSet secrets;
  secrets.references_secrets = {"db-*"};
  const auto with = [](const char* spec) { return json::parse(std::string(R"({"kind":"Pod","spec":)") + spec + "}"); };
  CHECK(object_conditions_hold(secrets, with(R"({"volumes":[{"name":"v","secret":{"secretName":"db-pass"}}]})")));
  CHECK(object_conditions_hold(secrets, with(R"({"volumes":[{"name":"v","projected":{"sources":[
      {"configMap":{"name":"x"}},{"secret":{"name":"db-x"}}]}}]})")));
  CHECK(object_conditions_hold(secrets, with(R"({"containers":[{"name":"a","env":[{"name":"P","valueFrom":
      {"secretKeyRef":{"name":"db-pass","key":"k"}}}]}]})")));
  CHECK(object_conditions_hold(secrets, with(R"({"initContainers":[{"name":"a","envFrom":[{"secretRef":{"name":"db-1"}}]}]})")));
  CHECK_FALSE(object_conditions_hold(secrets, with(R"({"containers":[{"name":"a","envFrom":[{"configMapRef":
      {"name":"db-1"}}]}],"volumes":[{"name":"v","secret":{"secretName":"web-tls"}}]})")));
  CHECK(object_conditions_hold(secrets, json::parse(R"({"spec":{"jobTemplate":{"spec":{"template":{"spec":
      {"containers":[{"name":"a","envFrom":[{"secretRef":{"name":"db-1"}}]}]}}}}}})")));
  ConditionSet verbs;
  verbs.grants_verbs = {"escalate", "bind", "impersonate"};
  const auto role = [](const char* rules) { return json::parse(std::string(R"({"kind":"Role","rules":)") + rules + "}"); };
  CHECK(object_conditions_hold(verbs, role(R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get"]},
      {"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles"],"verbs":["bind"]}])")));
  CHECK(object_conditions_hold(verbs, role(R"([{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}])")));
  CHECK_FALSE(object_conditions_hold(verbs, role(R"([{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}])")));
  CHECK_FALSE(object_conditions_hold(verbs, role("null")));
  ConditionSet pv_host;
  pv_host.host_path = true;
  CHECK(object_conditions_hold(pv_host, json::parse(R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"p"},
      "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/"}}})")));
  CHECK_FALSE(object_conditions_hold(pv_host, json::parse(R"({"kind":"PersistentVolume","spec":{"capacity":
      {"storage":"1Gi"},"nfs":{"server":"n","path":"/"}}})")));
  ConditionSet prod;
  prod.namespace_labels = {{"environment", "prod*"}};
  CHECK(namespace_conditions_hold(prod, kProductionNs));
  CHECK_FALSE(namespace_conditions_hold(prod, kStagingNs));
}

TEST_CASE("policy: the shipped default policy covers the seed's list") {
  const PolicyEngine engine(default_policy());
  const auto approve = [&](const Ask& a, const Evidence& ev = {}) {
    const auto d = decide(engine, a, ev);
    INFO(a.method << " " << a.target << " -> " << explain(d, engine.policy()));
    CHECK(d.action == Action::approve);
    return rule_of(d);
  };
  const auto allow = [&](const Ask& a, const Evidence& ev = {}) {
    const auto d = decide(engine, a, ev);
    INFO(a.method << " " << a.target << " -> " << explain(d, engine.policy()));
    CHECK(d.action == Action::allow);
  };
  CHECK(approve({"POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"}) == "cluster-rbac-changes");
  CHECK(approve({"DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/edit"}) == "cluster-rbac-changes");
  allow({"GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"});

  Evidence admin_body{&kAdminBinding};
  CHECK(approve({"POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings"}, admin_body) ==
        "rolebinding-grants-admin");
  Evidence view_body{&kViewBinding};
  allow({"POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings"}, view_body);

  // exec: decided on the live pod.
  Ask exec{"GET", "/api/v1/namespaces/shop/pods/node-shell/exec?command=sh&stdin=true&tty=true"};
  const auto needs = engine.needs(engine.candidates({exec.cluster, exec.who,
                                                     sluice::common::classify_request(exec.method, exec.target).info}),
                                  sluice::common::classify_request(exec.method, exec.target).info);
  CHECK(needs.live_object);
  CHECK_FALSE(needs.request_body);
  Evidence privileged_pod;
  privileged_pod.live_object = &kPrivilegedPod;
  CHECK(approve(exec, privileged_pod) == "exec-into-privileged-pod");
  Evidence plain_pod;
  plain_pod.live_object = &kPlainPod;
  allow(exec, plain_pod);
  CHECK(approve(exec) == "exec-into-privileged-pod");  // the pod could not be read: fail closed
  CHECK(decide(engine, exec).assumed.size() == 1);

  CHECK(approve({"POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"}) ==
        "admission-control-changes");
  CHECK(approve({"PATCH", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/x"}) ==
        "admission-control-changes");
  CHECK(approve({"PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/coredns"}, Evidence{&kPlainPod}) ==
        "kube-system-writes");
  allow({"GET", "/api/v1/namespaces/kube-system/pods"});
  CHECK(approve({"DELETE", "/api/v1/namespaces/shop"}) == "namespace-deletion");
  CHECK(approve({"DELETE", "/api/v1/namespaces/shop/configmaps?labelSelector=a%3Db"}) == "delete-collection");

  Evidence prod;
  prod.namespace_object = &kProductionNs;
  CHECK(approve({"DELETE", "/api/v1/namespaces/shop/pods/web-0"}, prod) == "production-pod-deletion");
  Evidence staging;
  staging.namespace_object = &kStagingNs;
  allow({"DELETE", "/api/v1/namespaces/shop/pods/web-0"}, staging);
  allow({"POST", "/api/v1/namespaces/shop/configmaps"});

  // Host-level workloads, whatever form they take.
  const json host_ipc_deploy = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":
      {"spec":{"hostIPC":true,"containers":[{"name":"a","image":"x"}]}}}})");
  CHECK(approve({"POST", "/apis/apps/v1/namespaces/shop/deployments"}, Evidence{&host_ipc_deploy}) ==
        "privileged-workloads");
  CHECK(approve({"PATCH", "/api/v1/namespaces/shop/pods/web-0/ephemeralcontainers"}, Evidence{&kPrivilegedPod}) ==
        "privileged-workloads");
  const json net_admin = json::parse(R"({"kind":"Pod","spec":{"containers":[{"name":"a",
      "securityContext":{"capabilities":{"add":["NET_ADMIN"]}}}]}})");
  CHECK(approve({"POST", "/api/v1/namespaces/shop/pods"}, Evidence{&net_admin}) == "privileged-workloads");
  const json baseline = json::parse(R"({"kind":"Pod","spec":{"containers":[{"name":"a",
      "securityContext":{"capabilities":{"add":["NET_BIND_SERVICE"],"drop":["ALL"]}}}]}})");
  allow({"POST", "/api/v1/namespaces/shop/pods"}, Evidence{&baseline});
  CHECK(approve({"PUT", "/apis/batch/v1/namespaces/shop/cronjobs/c"}, Evidence{&kCronJobCaps}) == "privileged-workloads");
  CHECK(approve({"POST", "/apis/apps/v1/namespaces/shop/daemonsets"}) == "privileged-workloads");  // unreadable body
  allow({"POST", "/apis/apps/v1/namespaces/shop/deployments"}, Evidence{&kPlainPod});
  Evidence ipc_pod;
  ipc_pod.live_object = &net_admin;
  CHECK(approve(exec, ipc_pod) == "exec-into-privileged-pod");

  // A bot's pod that is handed a Secret; a person's is not held for that.
  const json secret_env = json::parse(R"({"kind":"Pod","spec":{"containers":[{"name":"a","envFrom":
      [{"secretRef":{"name":"db"}}]}]}})");
  Ask bot_pod{"POST", "/api/v1/namespaces/shop/pods"};
  bot_pod.who.groups = {"ci", "bots"};
  CHECK(approve(bot_pod, Evidence{&secret_env}) == "bot-pods-with-secrets");
  allow({"POST", "/api/v1/namespaces/shop/pods"}, Evidence{&secret_env});
  allow(bot_pod, Evidence{&kPlainPod});

  const json escalating_role = json::parse(R"({"kind":"Role","rules":[{"apiGroups":[""],"resources":
      ["serviceaccounts"],"verbs":["impersonate"]}]})");
  CHECK(approve({"POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles"}, Evidence{&escalating_role}) ==
        "role-grants-escalation");
  const json reader_role = json::parse(R"({"kind":"Role","rules":[{"apiGroups":[""],"resources":["pods"],
      "verbs":["get","list"]}]})");
  allow({"POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles"}, Evidence{&reader_role});

  CHECK(approve({"GET", "/api/v1/nodes/n1/proxy/run/shop/web-0/app?cmd=id"}) == "node-proxy");
  CHECK(approve({"POST", "/api/v1/nodes/n1/proxy/exec/shop/web-0/app?command=id"}) == "node-proxy");
  CHECK(approve({"GET", "/api/v1/proxy/nodes/n1/pods"}) == "node-proxy-legacy");
  allow({"GET", "/api/v1/nodes/n1"});
  CHECK(approve({"POST", "/api/v1/namespaces/shop/serviceaccounts/default/token"}) == "service-account-tokens");
  allow({"GET", "/api/v1/namespaces/shop/serviceaccounts/default"});
  CHECK(approve({"PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval"}) == "csr-approval");
  allow({"POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests"});
  CHECK(approve({"POST", "/apis/apiregistration.k8s.io/v1/apiservices"}) == "apiservice-changes");
  CHECK(approve({"DELETE", "/api/v1/nodes/n1"}) == "node-deletion");
  const json host_pv = json::parse(R"({"kind":"PersistentVolume","spec":{"capacity":{"storage":"1Gi"},
      "hostPath":{"path":"/etc"}}})");
  CHECK(approve({"POST", "/api/v1/persistentvolumes"}, Evidence{&host_pv}) == "host-path-volumes");
  for (const char* version : {"v1", "v1beta1", "v1alpha1"}) {
    CHECK(approve({"POST", std::string("/apis/admissionregistration.k8s.io/") + version + "/mutatingadmissionpolicies"}) ==
          "admission-control-changes");
    CHECK(approve({"DELETE", std::string("/apis/admissionregistration.k8s.io/") + version +
                                 "/validatingadmissionpolicybindings/b"}) == "admission-control-changes");
  }
}

TEST_CASE("policy check: kubectl command lines become the requests kubectl sends") {
  const auto files = [](const std::string& name) -> std::string {
    if (name == "two.yaml")
      return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {replicas: 2}\n"
             "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
    throw std::invalid_argument("no such file " + name);
  };
  auto one = [&](std::vector<std::string> args) {
    auto r = kubectl_requests(args, "default", files);
    REQUIRE(r.size() == 1);
    return r.front();
  };
  CHECK(one({"get", "po", "web-0", "-n", "shop", "-w"}).target == "/api/v1/namespaces/shop/pods/web-0?watch=true");
  CHECK(one({"get", "deploy.apps", "-A"}).target == "/apis/apps/v1/deployments");
  CHECK(one({"delete", "ns/shop"}).target == "/api/v1/namespaces/shop");
  CHECK(one({"delete", "cm", "-l", "app=web"}).target == "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dweb");
  const auto crb = one({"create", "clusterrolebinding", "bot-admin", "--clusterrole=cluster-admin", "--user", "bot"});
  CHECK(crb.method == "POST");
  CHECK(crb.target == "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings");
  CHECK((*crb.body)["roleRef"]["name"] == "cluster-admin");
  CHECK((*crb.body)["subjects"][0]["name"] == "bot");
  const auto exec = one({"exec", "-it", "web-0", "-c", "app", "--", "sh", "-c", "echo hi"});
  CHECK(exec.target ==
        "/api/v1/namespaces/default/pods/web-0/exec?container=app&command=sh&command=-c&command=echo%20hi&stdin=true"
        "&stdout=true&tty=true");
  CHECK(one({"scale", "deploy", "web", "--replicas=3"}).target == "/apis/apps/v1/namespaces/default/deployments/web/scale");
  const auto label = one({"label", "ns", "shop", "environment=production"});
  CHECK((*label.body)["metadata"]["labels"]["environment"] == "production");
  const auto applied = kubectl_requests({"apply", "-f", "two.yaml", "--dry-run=server"}, "default", files);
  REQUIRE(applied.size() == 2);
  CHECK(applied[0].method == "PATCH");
  CHECK(applied[0].target == "/apis/apps/v1/namespaces/shop/deployments/web?dryRun=All&fieldManager=kubectl");
  CHECK((*applied[0].body)["spec"]["replicas"] == 2);  // YAML numbers stay numbers
  CHECK(applied[1].target == "/api/v1/namespaces/shop?dryRun=All&fieldManager=kubectl");
  CHECK_THROWS_AS(kubectl_requests({"get", "widgets"}, "default", files), std::invalid_argument);
  CHECK_THROWS_AS(kubectl_requests({"delete", "pods"}, "default", files), std::invalid_argument);
  CHECK_THROWS_AS(kubectl_requests({"create", "-f", "missing.yaml"}, "default", files), std::invalid_argument);
  CHECK(yaml_documents("a: '1'\nb: 1\nc: true\nd: \"true\"\n").front() ==
        json::parse(R"({"a":"1","b":1,"c":true,"d":"true"})"));
}

TEST_CASE("policy: durations print the way they are written") {
  CHECK(format_duration(std::chrono::seconds(600)) == "10m");
  CHECK(format_duration(std::chrono::seconds(5400)) == "1h30m");
  CHECK(format_duration(std::chrono::seconds(90)) == "1m30s");
  CHECK(format_duration(std::chrono::seconds(0)) == "0s");
}

// Each attack-corpus row that names the rule holding it: classified as the gateway classifies it,
// judged by the shipped default policy on its own body, as the demo bot. The integration runner
// sends the same rows through gateway, agent and stand-in.
TEST_CASE("policy: the attack corpus rows are held by the default policy's named rules") {
  const PolicyEngine engine(default_policy());
  std::ifstream corpus(std::string(SLUICE_SOURCE_DIR) + "/tests/security/attack_corpus.jsonl");
  REQUIRE(corpus);
  const Identity bot{"automation-bot", "uid-automation-bot", {"ci", "bots"}, {}, "static-token"};
  int checked = 0;
  for (std::string line; std::getline(corpus, line);) {
    if (line.empty()) continue;
    const auto row = json::parse(line);
    if (!row["expect"].contains("rule")) continue;
    CAPTURE(row["name"].get<std::string>());
    std::string target = row["path"].get<std::string>();
    if (row.contains("query")) target += "?" + row["query"].get<std::string>();
    const auto c = sluice::common::classify_request(row["method"].get<std::string>(), target);
    REQUIRE(c.ok());
    json body;
    Evidence ev;
    if (row.contains("body")) {
      body = json::parse(row["body"].get<std::string>());
      ev.request_body = &body;
    }
    const auto d = engine.evaluate({"corpus", bot, c.info}, ev);
    INFO(explain(d, engine.policy()));
    CHECK(d.action == Action::approve);
    CHECK(rule_of(d) == row["expect"]["rule"].get<std::string>());
    ++checked;
  }
  CHECK(checked >= 25);
}
