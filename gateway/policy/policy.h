// The policy: ordered rules that say which requests flow, which are refused, and which wait for
// a human. Structs mirror the YAML keys (gateway/policy/README.md documents the file); loading is
// in policy_loader.h, evaluation in policy_engine.h.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/glob.h"

namespace sluice::gateway::masking {
struct MaskingProfile;
}

namespace sluice::gateway::policy {

using common::glob_match;
using common::NameList;

// Ordered by strictness: among the matching rules the strictest action wins.
enum class Action { allow = 0, approve = 1, deny = 2 };
const char* to_string(Action a);

enum class ApprovalMode { hold, async };
const char* to_string(ApprovalMode m);

struct Approvers {
  std::vector<std::string> groups;
  std::vector<std::string> users;
};

struct ApprovalSpec {
  Approvers approvers;
  int min_approvals = 1;
  std::chrono::seconds timeout{600};
  ApprovalMode mode = ApprovalMode::hold;
};

// Which object a condition looks at. `automatic`: the request's body for create, update and
// patch; the live object (fetched through the tunnel) for everything else, e.g. the pod an exec
// goes into or the object a delete removes.
enum class Subject { automatic, request, live };

// One alternative of a rule's `when`: every condition listed must hold (AND). Pod conditions look
// at the pod spec wherever the object carries one (Pod, workload templates, CronJob).
struct ConditionSet {
  Subject object = Subject::automatic;
  std::optional<bool> privileged;    // some container runs privileged
  std::optional<bool> host_pid;      // spec.hostPID
  std::optional<bool> host_network;  // spec.hostNetwork
  std::optional<bool> host_ipc;      // spec.hostIPC
  std::optional<bool> host_path;     // some volume is a hostPath, or a PersistentVolume is one
  std::optional<bool> host_process;  // Windows securityContext.windowsOptions.hostProcess
  std::vector<std::string> added_capabilities;  // some container adds one of these ("*": any)
  std::vector<std::string> capabilities_outside;  // some container adds one not in this list
  std::vector<std::string> references_secrets;    // some pod spec names a Secret matching (globs)
  std::vector<std::string> grants_verbs;          // a (Cluster)Role rule grants one of these verbs
  std::vector<std::string> grants_role;         // a (Cluster)RoleBinding whose roleRef.name matches
  std::map<std::string, std::string> namespace_labels;  // the target namespace carries these labels
                                                        // (values may be globs)
  bool needs_object() const;  // some condition reads the request body or the live object
  bool needs_namespace() const { return !namespace_labels.empty(); }
};

struct Match {
  NameList clusters, users, groups, verbs, api_groups, namespaces, names;
  std::vector<std::string> resources;  // "pods", "pods/exec", "pods/*", "*" (as RBAC reads them)
  NameList non_resource_urls;          // "/healthz", "/version*"
  bool has_resources = false, has_non_resource_urls = false;
};

struct Rule {
  std::string name;
  int line = 0;  // where it starts in the file, for explanations
  Match match;
  std::vector<ConditionSet> when;  // empty: no condition; otherwise any alternative may hold (OR)
  Action action = Action::allow;
  std::string message;  // shown to the client on deny, to reviewers on approve
  ApprovalSpec approval;
  std::string masking_profile;  // the profile for the responses this rule decides ("": the default)
  bool reveal = false;          // approve rules only: once approved, Secret values pass unmasked
};

struct Policy {
  Action default_action = Action::allow;
  std::vector<Rule> rules;
  std::string source;  // the file it came from
  std::map<std::string, std::shared_ptr<const masking::MaskingProfile>> masking_profiles;
  std::string default_masking_profile;  // "": the built-in profile (every detector, no extra fields)
};

// The masking profile for responses `rule` decided (null: no rule applied): the rule's own, else
// the policy's default, else the built-in one.
std::shared_ptr<const masking::MaskingProfile> masking_profile_for(const Policy& policy, const Rule* rule);

}  // namespace sluice::gateway::policy
