#include "object_defaults.h"

#include <openssl/rand.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <set>

namespace sluice::standin {
namespace {
using json = nlohmann::json;

bool is_label(const std::string& s) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return s.size() <= 63 && std::regex_match(s, re);
}
bool is_subdomain(const std::string& s) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return s.size() <= 253 && std::regex_match(s, re);
}
bool is_path_segment(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos && s.find('%') == std::string::npos;
}

void validate_containers(const json& spec, const std::string& prefix, std::vector<FieldError>& errs) {
  if (!spec.is_object() || !spec.contains("containers") || !spec["containers"].is_array() || spec["containers"].empty()) {
    errs.push_back({prefix + ".containers", "FieldValueRequired", "Required value", ""});
    return;
  }
  for (std::size_t i = 0; i < spec["containers"].size(); ++i) {
    const auto& c = spec["containers"][i];
    const std::string at = prefix + ".containers[" + std::to_string(i) + "]";
    const std::string name = c.value("name", std::string());
    if (name.empty()) errs.push_back({at + ".name", "FieldValueRequired", "Required value", ""});
    else if (!is_label(name))
      errs.push_back({at + ".name", "FieldValueInvalid",
                      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                      "start and end with an alphanumeric character",
                      name});
    if (c.value("image", std::string()).empty())
      errs.push_back({at + ".image", "FieldValueRequired", "Required value", ""});
  }
}

void default_pod_spec(json& spec) {
  if (!spec.is_object()) return;
  spec.emplace("restartPolicy", "Always");
  spec.emplace("dnsPolicy", "ClusterFirst");
  spec.emplace("schedulerName", "default-scheduler");
  spec.emplace("terminationGracePeriodSeconds", 30);
  spec.emplace("securityContext", json::object());
  spec.emplace("serviceAccountName", "default");
  spec.emplace("serviceAccount", spec["serviceAccountName"]);
  spec.emplace("enableServiceLinks", true);
  spec.emplace("preemptionPolicy", "PreemptLowerPriority");
  spec.emplace("priority", 0);
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (auto& c : spec[list]) {
      const std::string image = c.value("image", std::string());
      const bool latest = image.find(':') == std::string::npos || (image.size() > 7 && image.substr(image.size() - 7) == ":latest");
      c.emplace("imagePullPolicy", latest ? "Always" : "IfNotPresent");
      c.emplace("terminationMessagePath", "/dev/termination-log");
      c.emplace("terminationMessagePolicy", "File");
      c.emplace("resources", json::object());
      if (c.contains("ports") && c["ports"].is_array())
        for (auto& p : c["ports"]) p.emplace("protocol", "TCP");
    }
  }
}
}  // namespace

std::vector<FieldError> validate_object(const ResourceType& type, const json& object) {
  std::vector<FieldError> errs;
  const std::string name = object.contains("metadata") ? object["metadata"].value("name", std::string()) : "";
  if (name.empty()) {
    errs.push_back({"metadata.name", "FieldValueRequired", "name or generateName is required", ""});
  } else if (type.group == "rbac.authorization.k8s.io") {
    if (!is_path_segment(name))
      errs.push_back({"metadata.name", "FieldValueInvalid", "may not contain '/' or '%'", name});
  } else if (type.resource == "namespaces" || type.resource == "services") {
    if (!is_label(name))
      errs.push_back({"metadata.name", "FieldValueInvalid",
                      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                      "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                      "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                      name});
  } else if (!is_subdomain(name)) {
    errs.push_back({"metadata.name", "FieldValueInvalid",
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                    name});
  }
  const json spec = object.value("spec", json::object());
  if (type.kind == "Pod") validate_containers(spec, "spec", errs);
  if (type.kind == "Deployment" || type.kind == "ReplicaSet") {
    if (!spec.contains("selector")) errs.push_back({"spec.selector", "FieldValueRequired", "Required value", ""});
    const json tmpl = spec.value("template", json::object());
    const json labels = tmpl.value("metadata", json::object()).value("labels", json::object());
    const json match = spec.value("selector", json::object()).value("matchLabels", json::object());
    for (const auto& [k, v] : match.items())
      if (!labels.contains(k) || labels[k] != v) {
        errs.push_back({"spec.template.metadata.labels", "FieldValueInvalid",
                        "`selector` does not match template `labels`", labels.dump()});
        break;
      }
    validate_containers(tmpl.value("spec", json::object()), "spec.template.spec", errs);
  }
  if (type.kind == "RoleBinding" || type.kind == "ClusterRoleBinding") {
    const json ref = object.value("roleRef", json::object());
    for (const char* f : {"kind", "name"})
      if (ref.value(f, std::string()).empty())
        errs.push_back({std::string("roleRef.") + f, "FieldValueRequired", "Required value", ""});
  }
  if (type.kind == "Secret" && object.contains("data") && object["data"].is_object()) {
    for (const auto& [k, v] : object["data"].items())
      if (!v.is_string() || !is_base64(v.get<std::string>()))
        errs.push_back({"data[" + k + "]", "FieldValueInvalid", "illegal base64 data", ""});
  }
  if (type.kind == "Service" && spec.value("type", std::string("ClusterIP")) != "ExternalName" &&
      spec.value("clusterIP", std::string()) != "None" &&
      (!spec.contains("ports") || !spec["ports"].is_array() || spec["ports"].empty()))
    errs.push_back({"spec.ports", "FieldValueRequired", "Required value", ""});
  return errs;
}

std::vector<FieldError> validate_ephemeral_update(const json& before, const json& after) {
  // kube-apiserver's ValidatePodEphemeralContainersUpdate: ephemeral containers are only added.
  std::vector<FieldError> errs;
  auto list_of = [](const json& pod) {
    auto spec = pod.find("spec");
    if (spec == pod.end() || !spec->is_object()) return json::array();
    auto it = spec->find("ephemeralContainers");
    return it != spec->end() && it->is_array() ? *it : json::array();
  };
  const json old_list = list_of(before), new_list = list_of(after);
  for (const auto& old_c : old_list) {
    const std::string name = old_c.value("name", std::string());
    bool kept = false;
    for (std::size_t i = 0; i < new_list.size(); ++i) {
      if (new_list[i].value("name", std::string()) != name) continue;
      kept = true;
      if (new_list[i] != old_c)
        errs.push_back({"spec.ephemeralContainers[" + std::to_string(i) + "]", "FieldValueForbidden",
                        "existing ephemeral containers \"" + name + "\" may not be changed", ""});
    }
    if (!kept)
      errs.push_back({"spec.ephemeralContainers", "FieldValueForbidden",
                      "existing ephemeral containers \"" + name + "\" may not be removed", ""});
  }
  std::set<std::string> names;
  for (const char* list : {"containers", "initContainers"})
    for (const auto& c : after["spec"].value(list, json::array())) names.insert(c.value("name", std::string()));
  for (std::size_t i = 0; i < new_list.size(); ++i) {
    const auto& c = new_list[i];
    const std::string at = "spec.ephemeralContainers[" + std::to_string(i) + "]";
    const std::string name = c.value("name", std::string());
    if (name.empty()) errs.push_back({at + ".name", "FieldValueRequired", "Required value", ""});
    else if (!names.insert(name).second) errs.push_back({at + ".name", "FieldValueDuplicate", "", name});
    if (c.value("image", std::string()).empty()) errs.push_back({at + ".image", "FieldValueRequired", "Required value", ""});
    for (const char* forbidden : {"ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"})
      if (c.contains(forbidden))
        errs.push_back({at + "." + forbidden, "FieldValueForbidden", "cannot be set for an Ephemeral Container", ""});
  }
  return errs;
}

json invalid_status(const ResourceType& type, const std::string& name, const std::vector<FieldError>& errors) {
  std::vector<std::string> parts;
  json causes = json::array();
  for (const auto& e : errors) {
    std::string text = e.field + ": " +
                       (e.type == "FieldValueRequired"    ? std::string("Required value")
                        : e.type == "FieldValueForbidden" ? "Forbidden: " + e.detail
                        : e.type == "FieldValueDuplicate" ? "Duplicate value: \"" + e.value + "\""
                                                          : "Invalid value: \"" + e.value + "\"");
    if (e.type == "FieldValueRequired" && e.detail != "Required value") text += ": " + e.detail;
    if (e.type == "FieldValueInvalid") text += ": " + e.detail;
    parts.push_back(text);
    causes.push_back({{"reason", e.type}, {"message", text.substr(e.field.size() + 2)}, {"field", e.field}});
  }
  std::string joined;
  if (parts.size() == 1) {
    joined = parts[0];
  } else {
    joined = "[";
    for (std::size_t i = 0; i < parts.size(); ++i) joined += (i ? ", " : "") + parts[i];
    joined += "]";
  }
  json details = {{"name", name}, {"kind", type.kind}, {"causes", causes}};
  if (!type.group.empty()) details["group"] = type.group;
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Failure"},
          {"message", type.kind + " \"" + name + "\" is invalid: " + joined},
          {"reason", "Invalid"},
          {"details", details},
          {"code", 422}};
}

void apply_defaults(const ResourceType& type, json& o, Allocator& alloc) {
  const std::string& kind = type.kind;
  if (kind == "Namespace") {
    o["spec"]["finalizers"] = json::array({"kubernetes"});
    o["status"] = {{"phase", "Active"}};
    o["metadata"]["labels"]["kubernetes.io/metadata.name"] = o["metadata"]["name"];
  } else if (kind == "Pod") {
    default_pod_spec(o["spec"]);
    o["spec"].emplace("nodeName", "standin-node");
    o["spec"].emplace("tolerations", json::array(
        {{{"key", "node.kubernetes.io/not-ready"}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}},
         {{"key", "node.kubernetes.io/unreachable"}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}}}));
    if (!o.contains("status") || !o["status"].contains("podIP")) {
      const std::string ip = "10.244.0." + std::to_string(alloc.next_pod_ip++ % 250 + 2);
      o["status"]["podIP"] = ip;
      o["status"]["podIPs"] = json::array({{{"ip", ip}}});
      o["status"]["hostIP"] = "127.0.0.1";
      o["status"]["qosClass"] = "BestEffort";
    }
  } else if (kind == "Service") {
    auto& spec = o["spec"];
    spec.emplace("type", "ClusterIP");
    spec.emplace("sessionAffinity", "None");
    if (spec["type"] != "ExternalName") {
      if (!spec.contains("clusterIP") || spec["clusterIP"] == "") {
        const unsigned n = alloc.next_service_ip++;
        spec["clusterIP"] = "10.96." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1);
      }
      spec["clusterIPs"] = json::array({spec["clusterIP"]});
      spec.emplace("ipFamilies", json::array({"IPv4"}));
      spec.emplace("ipFamilyPolicy", "SingleStack");
      spec.emplace("internalTrafficPolicy", "Cluster");
    }
    if (spec.contains("ports") && spec["ports"].is_array())
      for (auto& p : spec["ports"]) {
        p.emplace("protocol", "TCP");
        if (p.contains("port")) p.emplace("targetPort", p["port"]);
      }
    o.emplace("status", json{{"loadBalancer", json::object()}});
  } else if (kind == "Deployment" || kind == "ReplicaSet") {
    auto& spec = o["spec"];
    spec.emplace("replicas", 1);
    spec.emplace("revisionHistoryLimit", 10);
    if (kind == "Deployment") {
      spec.emplace("progressDeadlineSeconds", 600);
      auto& strategy = spec["strategy"];
      if (!strategy.is_object()) strategy = json::object();
      strategy.emplace("type", "RollingUpdate");
      if (strategy["type"] == "RollingUpdate")
        strategy.emplace("rollingUpdate", json{{"maxSurge", "25%"}, {"maxUnavailable", "25%"}});
    }
    if (spec.contains("template")) {
      default_pod_spec(spec["template"]["spec"]);
      spec["template"]["metadata"].emplace("creationTimestamp", nullptr);
    }
    // The stand-in has no controllers: report the desired state as reached at once.
    const auto replicas = spec["replicas"];
    o["status"] = {{"observedGeneration", o["metadata"].value("generation", 1)},
                   {"replicas", replicas},
                   {"updatedReplicas", replicas},
                   {"readyReplicas", replicas},
                   {"availableReplicas", replicas},
                   {"conditions", json::array({{{"type", "Available"}, {"status", "True"},
                                                {"reason", "MinimumReplicasAvailable"},
                                                {"message", "Deployment has minimum availability."},
                                                {"lastUpdateTime", now_rfc3339()},
                                                {"lastTransitionTime", now_rfc3339()}},
                                               {{"type", "Progressing"}, {"status", "True"},
                                                {"reason", "NewReplicaSetAvailable"},
                                                {"message", "ReplicaSet has successfully progressed."},
                                                {"lastUpdateTime", now_rfc3339()},
                                                {"lastTransitionTime", now_rfc3339()}}})}};
    if (replicas == 0) {
      o["status"].erase("readyReplicas");
      o["status"].erase("availableReplicas");
    }
  } else if (kind == "Secret") {
    o.emplace("type", "Opaque");
    if (o.contains("stringData") && o["stringData"].is_object()) {
      for (const auto& [k, v] : o["stringData"].items())
        o["data"][k] = base64_encode(v.is_string() ? v.get<std::string>() : v.dump());
      o.erase("stringData");
    }
    // Stored as bytes and written back in one line, as kube-apiserver does (no wrapped lines).
    if (o.contains("data") && o["data"].is_object())
      for (auto& [k, v] : o["data"].items())
        if (v.is_string() && v.get<std::string>().find_first_of("\r\n") != std::string::npos) {
          std::string one_line;
          for (char c : v.get<std::string>())
            if (c != '\r' && c != '\n') one_line += c;
          v = one_line;
        }
  }
}

std::string new_uid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

std::string now_rfc3339(long plus_seconds) {
  std::time_t t = std::time(nullptr) + plus_seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string base64_encode(const std::string& in) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {kTable[v >> 18], kTable[(v >> 12) & 63], kTable[(v >> 6) & 63], kTable[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += {kTable[v >> 18], kTable[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {kTable[v >> 18], kTable[(v >> 12) & 63], kTable[(v >> 6) & 63], '='};
  }
  return out;
}

bool is_base64(const std::string& text) {
  // Go's base64 decoder, which reads a []byte field, skips \r and \n: kustomize wraps long
  // Secret values at 76 columns, and kube-apiserver takes them.
  std::string in;
  in.reserve(text.size());
  for (char c : text)
    if (c != '\r' && c != '\n') in += c;
  if (in.size() % 4 != 0) return false;
  static const std::regex re("^[A-Za-z0-9+/]*={0,2}$");
  return std::regex_match(in, re);
}

bool spec_changed(const json& before, const json& after) {
  auto strip = [](json o) {
    if (o.is_object()) {
      o.erase("metadata");
      o.erase("status");
    }
    return o;
  };
  return strip(before) != strip(after);
}

}  // namespace sluice::standin
