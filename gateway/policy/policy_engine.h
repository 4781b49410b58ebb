// Evaluates a request against the policy, in two steps so the proxy fetches only what a decision
// needs: candidates() matches the request's attributes (pure, cheap), needs() says which objects
// the candidates' conditions read (the request body, the live object, the target namespace), and
// decide() picks the strictest applicable action: deny > approve > allow, then the default.
// A condition that cannot be checked (an object that could not be fetched, a JSON Patch body)
// resolves toward the stricter decision: it holds for approve and deny rules, not for allow rules.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/request_info.h"
#include "gateway/auth/identity.h"
#include "gateway/policy/policy.h"

namespace sluice::gateway::policy {

struct PolicyRequest {
  std::string_view cluster;
  const Identity& who;
  const common::RequestInfo& info;
};

struct Needs {
  bool request_body = false;
  bool live_object = false;
  bool namespace_object = false;
  bool any() const { return request_body || live_object || namespace_object; }
};

// What the proxy could find out. A null pointer with `*_absent` false means "not known".
struct Evidence {
  const nlohmann::json* request_body = nullptr;  // parsed JSON body (an array for a JSON Patch)
  const nlohmann::json* live_object = nullptr;
  bool live_object_absent = false;  // the API server said 404: there is no such object
  const nlohmann::json* namespace_object = nullptr;
  bool namespace_absent = false;
};

struct Decision {
  Action action = Action::allow;
  const Rule* rule = nullptr;  // null: no rule applied, the default action decided
  std::string message;         // the rule's message, or a default sentence
  std::vector<std::string> assumed;  // conditions that could not be checked (see above)
};

class PolicyEngine {
 public:
  explicit PolicyEngine(Policy policy);

  std::vector<const Rule*> candidates(const PolicyRequest& req) const;
  Needs needs(const std::vector<const Rule*>& candidates, const common::RequestInfo& info) const;
  Decision decide(const std::vector<const Rule*>& candidates, const PolicyRequest& req, const Evidence& ev) const;
  Decision evaluate(const PolicyRequest& req, const Evidence& ev) const { return decide(candidates(req), req, ev); }

  const Policy& policy() const { return policy_; }

 private:
  struct ResourcePattern {
    std::string resource, subresource;
    bool any_subresource = false;  // "pods/*" or "*"
    bool with_subresource = false;
  };
  struct CompiledRule {
    std::uint32_t verbs = ~0u;  // bit per known verb; all bits: any verb
    std::vector<ResourcePattern> resources;
  };
  bool attributes_match(const Rule& rule, const CompiledRule& compiled, const PolicyRequest& req,
                        std::uint32_t verb_bit) const;

  Policy policy_;
  std::vector<CompiledRule> compiled_;
};

// "the request body", "the live object": which object a condition set reads for this request.
Subject resolve_subject(Subject s, const common::RequestInfo& info);

// One line for people: "approve by rule 'cluster-rbac' (policy.yaml:12): <message>".
std::string explain(const Decision& d, const Policy& p);

}  // namespace sluice::gateway::policy
