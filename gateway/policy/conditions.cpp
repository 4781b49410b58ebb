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
      child(spec, "volumes") || child(spec, "hostPID") || child(spec, "hostNetwork") || child(spec, "hostIPC"))
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

bool adds_capability(const json& spec, const std::vector<std::string>& wanted) {
  return any_container(spec, [&](const json& c) {
    const json* add = child(child(child(&c, "securityContext"), "capabilities"), "add");
    if (!add || !add->is_array()) return false;
    for (const auto& cap : *add) {
      if (!cap.is_string()) continue;
      const auto name = capability_name(cap.get<std::string>());
      for (const auto& w : wanted)
        if (w == "*" || capability_name(w) == name) return true;
    }
    return false;
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
  if (!check(set.host_path, specs, host_path)) return false;
  if (!set.added_capabilities.empty() &&
      std::none_of(specs.begin(), specs.end(), [&](const json* s) { return adds_capability(*s, set.added_capabilities); }))
    return false;
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
  return privileged || host_pid || host_network || host_ipc || host_path || !added_capabilities.empty() ||
         !grants_role.empty();
}

}  // namespace sluice::gateway::policy
