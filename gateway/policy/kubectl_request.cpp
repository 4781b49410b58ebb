#include "gateway/policy/kubectl_request.h"

#include <yaml-cpp/yaml.h>

#include "common/request_info.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>

namespace sluice::gateway::policy {
namespace {

using nlohmann::json;

struct ResourceType {
  std::vector<std::string> names;  // plural first, then singular and short names
  std::string kind, group, version;
  bool namespaced;
  const std::string& plural() const { return names.front(); }
};

const std::vector<ResourceType>& resource_types() {
  static const std::vector<ResourceType> types = {
      {{"pods", "pod", "po"}, "Pod", "", "v1", true},
      {{"services", "service", "svc"}, "Service", "", "v1", true},
      {{"configmaps", "configmap", "cm"}, "ConfigMap", "", "v1", true},
      {{"secrets", "secret"}, "Secret", "", "v1", true},
      {{"namespaces", "namespace", "ns"}, "Namespace", "", "v1", false},
      {{"nodes", "node", "no"}, "Node", "", "v1", false},
      {{"serviceaccounts", "serviceaccount", "sa"}, "ServiceAccount", "", "v1", true},
      {{"persistentvolumeclaims", "persistentvolumeclaim", "pvc"}, "PersistentVolumeClaim", "", "v1", true},
      {{"persistentvolumes", "persistentvolume", "pv"}, "PersistentVolume", "", "v1", false},
      {{"events", "event", "ev"}, "Event", "", "v1", true},
      {{"endpoints", "endpoint", "ep"}, "Endpoints", "", "v1", true},
      {{"deployments", "deployment", "deploy"}, "Deployment", "apps", "v1", true},
      {{"replicasets", "replicaset", "rs"}, "ReplicaSet", "apps", "v1", true},
      {{"statefulsets", "statefulset", "sts"}, "StatefulSet", "apps", "v1", true},
      {{"daemonsets", "daemonset", "ds"}, "DaemonSet", "apps", "v1", true},
      {{"jobs", "job"}, "Job", "batch", "v1", true},
      {{"cronjobs", "cronjob", "cj"}, "CronJob", "batch", "v1", true},
      {{"ingresses", "ingress", "ing"}, "Ingress", "networking.k8s.io", "v1", true},
      {{"networkpolicies", "networkpolicy", "netpol"}, "NetworkPolicy", "networking.k8s.io", "v1", true},
      {{"roles", "role"}, "Role", "rbac.authorization.k8s.io", "v1", true},
      {{"rolebindings", "rolebinding"}, "RoleBinding", "rbac.authorization.k8s.io", "v1", true},
      {{"clusterroles", "clusterrole"}, "ClusterRole", "rbac.authorization.k8s.io", "v1", false},
      {{"clusterrolebindings", "clusterrolebinding"}, "ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", false},
      {{"validatingwebhookconfigurations", "validatingwebhookconfiguration"}, "ValidatingWebhookConfiguration",
       "admissionregistration.k8s.io", "v1", false},
      {{"mutatingwebhookconfigurations", "mutatingwebhookconfiguration"}, "MutatingWebhookConfiguration",
       "admissionregistration.k8s.io", "v1", false},
      {{"validatingadmissionpolicies", "validatingadmissionpolicy"}, "ValidatingAdmissionPolicy",
       "admissionregistration.k8s.io", "v1", false},
      {{"validatingadmissionpolicybindings", "validatingadmissionpolicybinding"}, "ValidatingAdmissionPolicyBinding",
       "admissionregistration.k8s.io", "v1", false},
      {{"customresourcedefinitions", "customresourcedefinition", "crd", "crds"}, "CustomResourceDefinition",
       "apiextensions.k8s.io", "v1", false},
      {{"storageclasses", "storageclass", "sc"}, "StorageClass", "storage.k8s.io", "v1", false},
      {{"priorityclasses", "priorityclass", "pc"}, "PriorityClass", "scheduling.k8s.io", "v1", false},
      {{"poddisruptionbudgets", "poddisruptionbudget", "pdb"}, "PodDisruptionBudget", "policy", "v1", true},
      {{"horizontalpodautoscalers", "horizontalpodautoscaler", "hpa"}, "HorizontalPodAutoscaler", "autoscaling", "v2",
       true},
      {{"leases", "lease"}, "Lease", "coordination.k8s.io", "v1", true},
  };
  return types;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const ResourceType& type_named(const std::string& given) {
  const auto name = lower(given);
  const auto dot = name.find('.');
  const auto base = name.substr(0, dot);
  const auto group = dot == std::string::npos ? std::string() : name.substr(dot + 1);
  for (const auto& t : resource_types()) {
    if (std::find(t.names.begin(), t.names.end(), base) == t.names.end()) continue;
    if (dot != std::string::npos && t.group != group) continue;
    return t;
  }
  throw std::invalid_argument("unknown resource type '" + given +
                              "' (policy check knows the built-in types; use --method and --path for others)");
}

// A manifest's type: built in, or derived from its kind and apiVersion (plural: lower-case kind + "s").
ResourceType type_of(const json& object) {
  const auto kind = object.value("kind", std::string());
  const auto api_version = object.value("apiVersion", std::string());
  if (kind.empty() || api_version.empty()) throw std::invalid_argument("a manifest without kind or apiVersion");
  const auto slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  for (const auto& t : resource_types())
    if (t.kind == kind && t.group == group) return {t.names, t.kind, t.group, version, t.namespaced};
  const bool namespaced = object.contains("metadata") && object["metadata"].contains("namespace");
  return {{lower(kind) + "s"}, kind, group, version, namespaced};
}

std::string collection_path(const ResourceType& t, const std::string& ns) {
  std::string p = t.group.empty() ? "/api/" + t.version : "/apis/" + t.group + "/" + t.version;
  if (t.namespaced) p += "/namespaces/" + ns;
  return p + "/" + t.plural();
}


json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& item : n) a.push_back(yaml_to_json(item));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const auto& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted in the file: a string whatever it looks like
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      if (s == "null" || s == "~") return nullptr;
      try {
        std::size_t used = 0;
        const long long i = std::stoll(s, &used);
        if (used == s.size()) return i;
        const double d = std::stod(s, &used);
        if (used == s.size()) return d;
      } catch (const std::exception&) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

struct Args {
  std::vector<std::string> positional, command;
  std::map<std::string, std::vector<std::string>> flags;
  bool has(const std::string& f) const { return flags.count(f) > 0; }
  std::string get(const std::string& f, const std::string& dflt = "") const {
    auto it = flags.find(f);
    return it == flags.end() || it->second.empty() ? dflt : it->second.back();
  }
};

Args parse_args(const std::vector<std::string>& in) {
  static const std::map<std::string, std::string> alias = {
      {"-n", "namespace"}, {"-f", "filename"}, {"-p", "patch"}, {"-c", "container"}, {"-o", "output"},
      {"-l", "selector"},  {"-A", "all-namespaces"}, {"-w", "watch"}, {"-i", "stdin"}, {"-t", "tty"}};
  static const std::vector<std::string> valued = {"namespace", "filename", "patch", "container", "output", "selector",
                                                  "type", "replicas", "clusterrole", "role", "user", "group",
                                                  "serviceaccount", "dry-run", "field-manager"};
  Args a;
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::string s = in[i];
    if (s == "--") {
      a.command.assign(in.begin() + static_cast<long>(i) + 1, in.end());
      break;
    }
    if (s == "-it" || s == "-ti") {
      a.flags["stdin"];
      a.flags["tty"];
      continue;
    }
    if (s.size() < 2 || s[0] != '-') {
      a.positional.push_back(s);
      continue;
    }
    std::string name, value;
    bool has_value = false;
    if (s.rfind("--", 0) == 0) {
      const auto eq = s.find('=');
      name = s.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) {
        value = s.substr(eq + 1);
        has_value = true;
      }
    } else {
      auto it = alias.find(s.substr(0, 2));
      if (it == alias.end()) throw std::invalid_argument("unknown flag " + s);
      name = it->second;
      if (s.size() > 2) {
        value = s.substr(s[2] == '=' ? 3 : 2);
        has_value = true;
      }
    }
    if (!has_value && std::find(valued.begin(), valued.end(), name) != valued.end()) {
      if (i + 1 >= in.size()) throw std::invalid_argument("flag --" + name + " needs a value");
      value = in[++i];
      has_value = true;
    }
    a.flags[name].push_back(has_value ? value : "true");
  }
  return a;
}

std::string with_query(std::string path, const std::vector<std::string>& params) {
  for (std::size_t i = 0; i < params.size(); ++i) path += (i ? "&" : "?") + params[i];
  return path;
}

}  // namespace

std::vector<json> yaml_documents(const std::string& text) {
  std::vector<json> out;
  for (const auto& doc : YAML::LoadAll(text)) {
    if (doc.IsNull()) continue;
    json j = yaml_to_json(doc);
    if (j.is_object() && j.value("kind", "") == "List" && j.contains("items")) {
      for (auto& item : j["items"]) out.push_back(std::move(item));
    } else {
      out.push_back(std::move(j));
    }
  }
  return out;
}

std::vector<HttpRequest> kubectl_requests(const std::vector<std::string>& args, const std::string& default_namespace,
                                          FileReader files) {
  if (args.empty()) throw std::invalid_argument("no kubectl command given");
  const std::string verb = args.front();
  const Args a = parse_args({args.begin() + 1, args.end()});
  const std::string ns = a.get("namespace", default_namespace);
  std::vector<std::string> dry_run;
  if (a.get("dry-run") == "server") dry_run.push_back("dryRun=All");
  std::vector<HttpRequest> out;

  // TYPE NAME, TYPE/NAME, or TYPE alone.
  auto target = [&](std::size_t first) -> std::pair<const ResourceType*, std::vector<std::string>> {
    if (a.positional.size() <= first) throw std::invalid_argument("kubectl " + verb + ": which resource?");
    std::string t = a.positional[first];
    std::vector<std::string> names(a.positional.begin() + static_cast<long>(first) + 1, a.positional.end());
    if (const auto slash = t.find('/'); slash != std::string::npos) {
      names.insert(names.begin(), t.substr(slash + 1));
      t = t.substr(0, slash);
    }
    return {&type_named(t), names};
  };
  auto object_path = [&](const ResourceType& t, const std::string& name) { return collection_path(t, ns) + "/" + name; };
  auto manifests = [&]() {
    if (!a.has("filename")) throw std::invalid_argument("kubectl " + verb + " needs -f FILE here");
    std::vector<json> docs;
    for (const auto& f : a.flags.at("filename"))
      for (auto& d : yaml_documents(files(f))) docs.push_back(std::move(d));
    if (docs.empty()) throw std::invalid_argument("no objects in " + a.get("filename"));
    return docs;
  };
  auto manifest_path = [&](const json& doc, bool with_name) {
    const auto t = type_of(doc);
    const auto obj_ns = doc.contains("metadata") ? doc["metadata"].value("namespace", ns) : ns;
    std::string p = t.group.empty() ? "/api/" + t.version : "/apis/" + t.group + "/" + t.version;
    if (t.namespaced) p += "/namespaces/" + obj_ns;
    p += "/" + t.plural();
    if (with_name) {
      const auto name = doc.contains("metadata") ? doc["metadata"].value("name", std::string()) : std::string();
      if (name.empty()) throw std::invalid_argument("a manifest without metadata.name");
      p += "/" + name;
    }
    return p;
  };

  if (verb == "get" || verb == "describe") {
    auto [t, names] = target(0);
    std::vector<std::string> q;
    if (a.has("watch")) q.push_back("watch=true");
    if (a.has("selector")) q.push_back("labelSelector=" + common::percent_encode(a.get("selector")));
    std::string base = collection_path(*t, ns);
    if (a.has("all-namespaces") && t->namespaced) {
      base = (t->group.empty() ? "/api/" + t->version : "/apis/" + t->group + "/" + t->version) + "/" + t->plural();
    }
    if (names.empty()) out.push_back({"GET", with_query(base, q), std::nullopt});
    for (const auto& n : names) out.push_back({"GET", with_query(base + "/" + n, q), std::nullopt});
  } else if (verb == "delete") {
    if (a.has("filename")) {
      for (const auto& d : manifests()) out.push_back({"DELETE", with_query(manifest_path(d, true), dry_run), std::nullopt});
    } else {
      auto [t, names] = target(0);
      if (names.empty() && !a.has("all") && !a.has("selector"))
        throw std::invalid_argument("kubectl delete: name the objects, or use --all or -l");
      if (names.empty()) {
        std::vector<std::string> q = dry_run;
        if (a.has("selector")) q.push_back("labelSelector=" + common::percent_encode(a.get("selector")));
        out.push_back({"DELETE", with_query(collection_path(*t, ns), q), std::nullopt});
      }
      for (const auto& n : names) out.push_back({"DELETE", with_query(object_path(*t, n), dry_run), std::nullopt});
    }
  } else if (verb == "create" && a.has("filename")) {
    for (auto& d : manifests()) out.push_back({"POST", with_query(manifest_path(d, false), dry_run), d});
  } else if (verb == "create") {
    if (a.positional.size() < 2) throw std::invalid_argument("kubectl create: which generator and name?");
    const auto kind = lower(a.positional[0]);
    const auto name = a.positional[1];
    json body;
    if (kind == "clusterrolebinding" || kind == "rolebinding") {
      const bool cluster = kind == "clusterrolebinding";
      const auto role = a.has("clusterrole") ? a.get("clusterrole") : a.get("role");
      if (role.empty()) throw std::invalid_argument("kubectl create " + kind + " needs --clusterrole or --role");
      json subjects = json::array();
      if (a.has("user"))
        for (const auto& u : a.flags.at("user"))
          subjects.push_back({{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", u}});
      if (a.has("group"))
        for (const auto& g : a.flags.at("group"))
          subjects.push_back({{"kind", "Group"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", g}});
      if (a.has("serviceaccount"))
        for (const auto& s : a.flags.at("serviceaccount")) {
          const auto colon = s.find(':');
          subjects.push_back({{"kind", "ServiceAccount"}, {"namespace", s.substr(0, colon)},
                              {"name", colon == std::string::npos ? "" : s.substr(colon + 1)}});
        }
      body = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
              {"kind", cluster ? "ClusterRoleBinding" : "RoleBinding"},
              {"metadata", {{"name", name}}},
              {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"},
                           {"kind", a.has("clusterrole") ? "ClusterRole" : "Role"}, {"name", role}}},
              {"subjects", subjects}};
      if (!cluster) body["metadata"]["namespace"] = ns;
    } else if (kind == "namespace" || kind == "ns") {
      body = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
    } else if (kind == "configmap" || kind == "cm" || kind == "secret" || kind == "serviceaccount" || kind == "sa") {
      const auto& t = type_named(kind == "secret" ? "secret" : kind);
      body = {{"apiVersion", "v1"}, {"kind", t.kind}, {"metadata", {{"name", name}, {"namespace", ns}}}};
    } else {
      throw std::invalid_argument("kubectl create " + kind + " is not understood here; write the object to a file "
                                  "and use create -f");
    }
    out.push_back({"POST", with_query(manifest_path(body, false), dry_run), body});
  } else if (verb == "apply") {
    // Server-side apply, which is also what client-side apply becomes for an existing object.
    std::vector<std::string> q = dry_run;
    q.push_back("fieldManager=" + common::percent_encode(a.get("field-manager", "kubectl")));
    for (auto& d : manifests()) out.push_back({"PATCH", with_query(manifest_path(d, true), q), d});
  } else if (verb == "replace") {
    for (auto& d : manifests()) out.push_back({"PUT", with_query(manifest_path(d, true), dry_run), d});
  } else if (verb == "patch" || verb == "label" || verb == "annotate" || verb == "scale") {
    auto [t, names] = target(0);
    if (names.empty()) throw std::invalid_argument("kubectl " + verb + ": which object?");
    json body = json::object();
    std::string sub;
    if (verb == "patch") {
      if (!a.has("patch")) throw std::invalid_argument("kubectl patch needs -p PATCH");
      body = json::parse(a.get("patch"), nullptr, false);
      if (body.is_discarded()) {
        const auto docs = yaml_documents(a.get("patch"));
        if (docs.size() != 1) throw std::invalid_argument("kubectl patch: -p is neither JSON nor YAML");
        body = docs.front();
      }
    } else if (verb == "scale") {
      if (!a.has("replicas")) throw std::invalid_argument("kubectl scale needs --replicas");
      body = {{"spec", {{"replicas", std::stoi(a.get("replicas"))}}}};
      sub = "/scale";
    } else {
      const std::string field = verb == "label" ? "labels" : "annotations";
      body["metadata"][field] = json::object();
      for (std::size_t i = 1; i < names.size(); ++i) {
        const auto& kv = names[i];
        const auto eq = kv.find('=');
        if (eq != std::string::npos) body["metadata"][field][kv.substr(0, eq)] = kv.substr(eq + 1);
        else if (!kv.empty() && kv.back() == '-') body["metadata"][field][kv.substr(0, kv.size() - 1)] = nullptr;
      }
      names.resize(1);
    }
    for (const auto& n : names) out.push_back({"PATCH", with_query(object_path(*t, n) + sub, dry_run), body});
  } else if (verb == "exec" || verb == "attach" || verb == "port-forward" || verb == "logs") {
    if (a.positional.empty()) throw std::invalid_argument("kubectl " + verb + ": which pod?");
    std::string pod = a.positional.front();
    if (pod.rfind("pod/", 0) == 0 || pod.rfind("pods/", 0) == 0) pod = pod.substr(pod.find('/') + 1);
    const auto base = object_path(type_named("pods"), pod);
    std::vector<std::string> q;
    if (a.has("container")) q.push_back("container=" + common::percent_encode(a.get("container")));
    if (verb == "logs") {
      if (a.has("follow")) q.push_back("follow=true");
      out.push_back({"GET", with_query(base + "/log", q), std::nullopt});
    } else if (verb == "port-forward") {
      for (std::size_t i = 1; i < a.positional.size(); ++i) {
        const auto& spec = a.positional[i];
        q.push_back("ports=" + spec.substr(spec.find(':') == std::string::npos ? 0 : spec.find(':') + 1));
      }
      out.push_back({"GET", with_query(base + "/portforward", q), std::nullopt});
    } else {
      for (const auto& c : a.command) q.push_back("command=" + common::percent_encode(c));
      if (a.has("stdin")) q.push_back("stdin=true");
      q.push_back("stdout=true");
      if (!a.has("tty")) q.push_back("stderr=true");
      if (a.has("tty")) q.push_back("tty=true");
      // kubectl 1.31+ opens exec and attach as a WebSocket GET (KEP-4006: the verb is create either way).
      out.push_back({"GET", with_query(base + "/" + verb, q), std::nullopt});
    }
  } else {
    throw std::invalid_argument("kubectl " + verb + " is not understood by policy check; give --method and --path");
  }
  return out;
}

}  // namespace sluice::gateway::policy
