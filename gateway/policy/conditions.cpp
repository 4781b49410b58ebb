#include "gateway/policy/conditions.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace sluice::gateway::policy {
namespace {

using nlohmann::json;

const json* child(const json* j, const char* key) {
  if (!j || !j->is_object()) return nullptr;
  auto it = j->find(key);
  return it == j->end() ? nullptr : &*it;
}

// Every pod spec the object carries: a Pod's own, a workload's template (Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job, ReplicationController), a CronJob's job template, a PodTemplate's.
// Found by shape, not by kind: a patch body often has no kind.
std::vector<const json*> pod_specs(const json& object) {
  std::vector<const json*> out;
  auto add = [&](const json* spec) {
    if (spec && spec->is_object()) out.push_back(spec);
  };
  const json* spec = child(&object, "spec");
  if (child(spec, "containers") || child(spec, "initContainers") || child(spec, "ephemeralContainers") ||
      child(spec, "volumes") || child(spec, "hostPID") || child(spec, "hostNetwork") || child(spec, "hostIPC") ||
      child(spec, "securityContext"))
    add(spec);
  add(child(child(spec, "template"), "spec"));
  add(child(child(child(child(spec, "jobTemplate"), "spec"), "template"), "spec"));
  add(child(child(&object, "template"), "spec"));
  return out;
}

template <typename F>
bool any_container(const json& spec, F&& pred) {
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    const json* cs = child(&spec, list);
    if (!cs || !cs->is_array()) continue;
    for (const auto& c : *cs)
      if (c.is_object() && pred(c)) return true;
  }
  return false;
}

bool is_true(const json* j) { return j && j->is_boolean() && j->get<bool>(); }

std::string capability_name(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (s.rfind("CAP_", 0) == 0) s.erase(0, 4);
  return s;
}

bool privileged(const json& spec) {
  return any_container(spec, [](const json& c) { return is_true(child(child(&c, "securityContext"), "privileged")); });
}

bool host_path(const json& spec) {
  const json* vols = child(&spec, "volumes");
  if (!vols || !vols->is_array()) return false;
  return std::any_of(vols->begin(), vols->end(), [](const json& v) { return child(&v, "hostPath") != nullptr; });
}

// A PersistentVolume's own `spec.hostPath` hands whoever mounts its claim a directory of the node.
bool persistent_volume_host_path(const json& object) {
  const json* kind = child(&object, "kind");
  const bool pv = kind && kind->is_string() && kind->get_ref<const std::string&>() == "PersistentVolume";
  const json* spec = child(&object, "spec");
  return child(spec, "hostPath") && (pv || child(spec, "capacity") || child(spec, "accessModes"));
}

bool host_process(const json& spec) {
  auto windows_host = [](const json* sc) { return is_true(child(child(sc, "windowsOptions"), "hostProcess")); };
  if (windows_host(child(&spec, "securityContext"))) return true;
  return any_container(spec, [&](const json& c) { return windows_host(child(&c, "securityContext")); });
}

// Every Secret name the pod spec hands to its containers: secret and projected volumes,
// env[].valueFrom.secretKeyRef and envFrom[].secretRef.
std::vector<std::string> referenced_secrets(const json& spec) {
  std::vector<std::string> out;
  auto add = [&](const json* name) {
    if (name && name->is_string()) out.push_back(name->get<std::string>());
  };
  if (const json* vols = child(&spec, "volumes"); vols && vols->is_array()) {
    for (const auto& v : *vols) {
      add(child(child(&v, "secret"), "secretName"));
      const json* sources = child(child(&v, "projected"), "sources");
      if (sources && sources->is_array())
        for (const auto& src : *sources) add(child(child(&src, "secret"), "name"));
    }
  }
  any_container(spec, [&](const json& c) {
    if (const json* env = child(&c, "env"); env && env->is_array())
      for (const auto& e : *env) add(child(child(child(&e, "valueFrom"), "secretKeyRef"), "name"));
    if (const json* from = child(&c, "envFrom"); from && from->is_array())
      for (const auto& f : *from) add(child(child(&f, "secretRef"), "name"));
    return false;
  });
  return out;
}

// Whether some rule of a Role or ClusterRole grants one of `wanted`; a rule's "*" grants them all.
bool grants_verb(const json& object, const std::vector<std::string>& wanted) {
  const json* rules = child(&object, "rules");
  if (!rules || !rules->is_array()) return false;
  for (const auto& r : *rules) {
    const json* verbs = child(&r, "verbs");
    if (!verbs || !verbs->is_array()) continue;
    for (const auto& v : *verbs) {
      if (!v.is_string()) continue;
      const auto& verb = v.get_ref<const std::string&>();
      if (verb == "*" || std::find(wanted.begin(), wanted.end(), verb) != wanted.end()) return true;
    }
  }
  return false;
}

// Whether some container's securityContext.capabilities.add holds an entry for which `hit` is true.
template <class Hit>
bool any_added_capability(const json& spec, Hit hit) {
  return any_container(spec, [&](const json& c) {
    const json* add = child(child(child(&c, "securityContext"), "capabilities"), "add");
    return add && add->is_array() && std::any_of(add->begin(), add->end(), hit);
  });
}

bool adds_capability(const json& spec, const std::vector<std::string>& wanted) {
  return any_added_capability(spec, [&](const json& cap) {
    if (!cap.is_string()) return false;
    const auto name = capability_name(cap.get<std::string>());
    return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) { return w == "*" || capability_name(w) == name; });
  });
}

// Whether some container adds a capability that `allowed` does not list.
bool adds_capability_outside(const json& spec, const std::vector<std::string>& allowed) {
  return any_added_capability(spec, [&](const json& cap) {
    if (!cap.is_string()) return true;  // not a name the gateway can vouch for
    const auto name = capability_name(cap.get<std::string>());
    return std::none_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return capability_name(a) == name; });
  });
}

// `want`: the condition as written (true: some pod spec has it; false: none has).
bool check(const std::optional<bool>& want, const std::vector<const json*>& specs, bool (*has)(const json&)) {
  if (!want) return true;
  const bool some = std::any_of(specs.begin(), specs.end(), [&](const json* s) { return has(*s); });
  return some == *want;
}

}  // namespace

bool object_conditions_hold(const ConditionSet& set, const json& object) {
  const auto specs = pod_specs(object);
  if (!check(set.privileged, specs, privileged)) return false;
  if (!check(set.host_pid, specs, [](const json& s) { return is_true(child(&s, "hostPID")); })) return false;
  if (!check(set.host_network, specs, [](const json& s) { return is_true(child(&s, "hostNetwork")); })) return false;
  if (!check(set.host_ipc, specs, [](const json& s) { return is_true(child(&s, "hostIPC")); })) return false;
  if (set.host_path) {
    const bool some = persistent_volume_host_path(object) ||
                      std::any_of(specs.begin(), specs.end(), [](const json* s) { return host_path(*s); });
    if (some != *set.host_path) return false;
  }
  if (!check(set.host_process, specs, host_process)) return false;
  if (!set.added_capabilities.empty() &&
      std::none_of(specs.begin(), specs.end(), [&](const json* s) { return adds_capability(*s, set.added_capabilities); }))
    return false;
  if (!set.capabilities_outside.empty() && std::none_of(specs.begin(), specs.end(), [&](const json* s) {
        return adds_capability_outside(*s, set.capabilities_outside);
      }))
    return false;
  if (!set.references_secrets.empty() && std::none_of(specs.begin(), specs.end(), [&](const json* s) {
        for (const auto& name : referenced_secrets(*s))
          for (const auto& g : set.references_secrets)
            if (glob_match(g, name)) return true;
        return false;
      }))
    return false;
  if (!set.grants_verbs.empty() && !grants_verb(object, set.grants_verbs)) return false;
  if (!set.grants_role.empty()) {
    const json* role = child(child(&object, "roleRef"), "name");
    if (!role || !role->is_string()) return false;
    const auto& name = role->get_ref<const std::string&>();
    if (std::none_of(set.grants_role.begin(), set.grants_role.end(),
                     [&](const std::string& g) { return glob_match(g, name); }))
      return false;
  }
  return true;
}

bool namespace_conditions_hold(const ConditionSet& set, const json& namespace_object) {
  const json* labels = child(child(&namespace_object, "metadata"), "labels");
  for (const auto& [key, value] : set.namespace_labels) {
    const json* v = child(labels, key.c_str());
    if (!v || !v->is_string() || !glob_match(value, v->get_ref<const std::string&>())) return false;
  }
  return true;
}

bool ConditionSet::needs_object() const {
  return privileged || host_pid || host_network || host_ipc || host_path || host_process ||
         !added_capabilities.empty() || !capabilities_outside.empty() || !references_secrets.empty() ||
         !grants_role.empty() || !grants_verbs.empty();
}

}  // namespace sluice::gateway::policy
