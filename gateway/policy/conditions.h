// Conditions over Kubernetes objects: is this pod (or the pod a workload would create)
// privileged, on the host's namespaces, mounting host paths, adding capabilities, handed
// Secrets; does this binding grant a given role, this role a given verb; does a namespace carry
// given labels. Pure functions over JSON.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include "gateway/policy/policy.h"

namespace sluice::gateway::policy {

// Whether every condition of `set` that reads an object holds for `object` (a manifest, a patch
// body or a live object). Pod conditions look at every pod spec the object carries.
bool object_conditions_hold(const ConditionSet& set, const nlohmann::json& object);

// Whether a namespace object's labels match `set.namespace_labels`.
bool namespace_conditions_hold(const ConditionSet& set, const nlohmann::json& namespace_object);

}  // namespace sluice::gateway::policy
