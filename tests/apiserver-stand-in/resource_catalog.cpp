#include "resource_catalog.h"

#include <map>
#include <set>

namespace sluice::standin {
namespace {
const std::vector<std::string> kObjectVerbs = {"create", "delete", "deletecollection", "get", "list",
                                               "patch", "update", "watch"};

std::vector<std::string> subresource_verbs(const std::string& sub) {
  if (sub == "log") return {"get"};
  if (sub == "exec" || sub == "attach" || sub == "portforward") return {"create", "get"};
  if (sub == "token") return {"create"};
  return {"get", "patch", "update"};  // status, scale
}

std::string subresource_kind(const ResourceType& t, const std::string& sub) {
  if (sub == "log") return "Pod";
  if (sub == "exec") return "PodExecOptions";
  if (sub == "attach") return "PodAttachOptions";
  if (sub == "portforward") return "PodPortForwardOptions";
  if (sub == "scale") return "Scale";
  if (sub == "token") return "TokenRequest";
  return t.kind;
}

}  // namespace

ResourceCatalog::ResourceCatalog() {
  types_ = {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, {}, {"status"}},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}, {"all"}, {"attach", "ephemeralcontainers", "exec", "log", "portforward", "status"}},
      {"", "v1", "secrets", "secret", "Secret", true, {}, {}, {}},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}, {}, {}},
      {"", "v1", "services", "service", "Service", true, {"svc"}, {"all"}, {"status"}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, {}, {"token"}},
      {"", "v1", "events", "event", "Event", true, {"ev"}, {}, {}},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, {"all"}, {"scale", "status"}},
      {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, {"all"}, {"scale", "status"}},
      {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, {"pdb"}, {}, {"status"}},
      {"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, {"netpol"}, {}, {}},
      {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, {}, {}, {}},
      {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, {}, {}, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, {}, {}, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, {}, {}, {}},
      {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "validatingwebhookconfiguration",
       "ValidatingWebhookConfiguration", false, {}, {"api-extensions"}, {}},
      {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration",
       "MutatingWebhookConfiguration", false, {}, {"api-extensions"}, {}},
      {"admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "validatingadmissionpolicy",
       "ValidatingAdmissionPolicy", false, {}, {"api-extensions"}, {"status"}},
      {"admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "validatingadmissionpolicybinding",
       "ValidatingAdmissionPolicyBinding", false, {}, {"api-extensions"}, {}},
  };
  virtual_ = {
      {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview"},
      {"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview"},
      {"authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview"},
  };
}

const ResourceType* ResourceCatalog::find(const std::string& group, const std::string& version,
                                          const std::string& resource) const {
  for (const auto& t : types_)
    if (t.group == group && t.version == version && t.resource == resource) return &t;
  return nullptr;
}

nlohmann::json ResourceCatalog::version_info() const {
  return {{"major", "1"},
          {"minor", "32"},
          {"gitVersion", "v1.32.0-sluice-standin"},
          {"gitCommit", "0000000000000000000000000000000000000000"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-01-01T00:00:00Z"},
          {"goVersion", "go1.23.0"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

nlohmann::json ResourceCatalog::core_versions(const std::string& server_address) const {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

nlohmann::json ResourceCatalog::group_list() const {
  std::map<std::string, std::set<std::string>> groups;
  for (const auto& t : types_)
    if (!t.group.empty()) groups[t.group].insert(t.version);
  for (const auto& v : virtual_) groups[v.group].insert(v.version);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, versions] : groups) {
    nlohmann::json vs = nlohmann::json::array();
    for (const auto& v : versions) vs.push_back({{"groupVersion", name + "/" + v}, {"version", v}});
    list.push_back({{"name", name}, {"versions", vs}, {"preferredVersion", vs.front()}});
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", list}};
}

std::optional<nlohmann::json> ResourceCatalog::resource_list(const std::string& group,
                                                             const std::string& version) const {
  nlohmann::json resources = nlohmann::json::array();
  for (const auto& t : types_) {
    if (t.group != group || t.version != version) continue;
    nlohmann::json r = {{"name", t.resource},       {"singularName", t.singular}, {"namespaced", t.namespaced},
                        {"kind", t.kind},           {"verbs", kObjectVerbs}};
    if (!t.short_names.empty()) r["shortNames"] = t.short_names;
    if (!t.categories.empty()) r["categories"] = t.categories;
    resources.push_back(r);
    for (const auto& sub : t.subresources) {
      nlohmann::json s = {{"name", t.resource + "/" + sub}, {"singularName", ""}, {"namespaced", t.namespaced},
                          {"kind", subresource_kind(t, sub)}, {"verbs", subresource_verbs(sub)}};
      if (sub == "scale") {
        s["group"] = "autoscaling";
        s["version"] = "v1";
      }
      resources.push_back(s);
    }
  }
  for (const auto& v : virtual_) {
    if (v.group != group || v.version != version) continue;
    resources.push_back({{"name", v.resource}, {"singularName", ""}, {"namespaced", false}, {"kind", v.kind},
                         {"verbs", {"create"}}});
  }
  if (resources.empty()) return std::nullopt;
  return nlohmann::json{{"kind", "APIResourceList"},
                        {"apiVersion", "v1"},
                        {"groupVersion", group.empty() ? version : group + "/" + version},
                        {"resources", resources}};
}

}  // namespace sluice::standin
