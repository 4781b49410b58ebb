#include "gateway/policy/policy_engine.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

#include "gateway/policy/conditions.h"

namespace sluice::gateway::policy {
namespace {

// Verbs a rule can name, as bits: the verb test is then one AND for every rule.
constexpr std::array<std::string_view, 13> kVerbNames = {"get",   "list",  "watch",  "create", "update",
                                                          "patch", "delete", "deletecollection", "proxy",
                                                          "post",  "put",   "head",  "options"};
std::uint32_t verb_bit(std::string_view verb) {
  for (std::size_t i = 0; i < kVerbNames.size(); ++i)
    if (kVerbNames[i] == verb) return 1u << i;
  return 1u << 31;  // a verb no rule can name (only "*" matches it)
}

bool any_group_matches(const NameList& list, const Identity& who) {
  if (list.matches_everything()) return true;
  if (list.matches("system:authenticated")) return true;  // every identity Sluice forwards has it
  return std::any_of(who.groups.begin(), who.groups.end(), [&](const std::string& g) { return list.matches(g); });
}

}  // namespace

const char* to_string(Action a) {
  switch (a) {
    case Action::allow: return "allow";
    case Action::approve: return "approve";
    case Action::deny: return "deny";
  }
  return "?";
}

const char* to_string(ApprovalMode m) { return m == ApprovalMode::hold ? "hold" : "async"; }

Subject resolve_subject(Subject s, const common::RequestInfo& info) {
  if (s != Subject::automatic) return s;
  // A create, update or patch carries the object it will make (also a status update, and the
  // Pod that `kubectl debug` sends to pods/ephemeralcontainers). Everything else, such as exec
  // into a pod or a delete, is about the object that is there now.
  const bool writes_object = info.verb == "create" || info.verb == "update" || info.verb == "patch";
  const bool object_body = info.subresource.empty() || info.subresource == "status" ||
                           info.subresource == "ephemeralcontainers";
  return writes_object && object_body ? Subject::request : Subject::live;
}

PolicyEngine::PolicyEngine(Policy policy) : policy_(std::move(policy)) {
  compiled_.reserve(policy_.rules.size());
  for (const auto& rule : policy_.rules) {
    CompiledRule c;
    if (!rule.match.verbs.matches_everything()) {
      c.verbs = 0;
      for (const auto& v : rule.match.verbs.patterns()) c.verbs |= verb_bit(v);
    }
    for (const auto& r : rule.match.resources) {
      ResourcePattern p;
      const auto slash = r.find('/');
      p.resource = r.substr(0, slash);
      if (slash != std::string::npos) {
        p.with_subresource = true;
        p.subresource = r.substr(slash + 1);
        p.any_subresource = p.subresource == "*";
      } else if (r == "*") {
        p.any_subresource = true;  // RBAC: "*" is every resource and every subresource
        p.with_subresource = true;
      }
      c.resources.push_back(std::move(p));
    }
    compiled_.push_back(std::move(c));
  }
}

bool PolicyEngine::attributes_match(const Rule& rule, const CompiledRule& c, const PolicyRequest& req,
                                    std::uint32_t vbit) const {
  const auto& m = rule.match;
  const auto& info = req.info;
  if (!(c.verbs & vbit)) return false;
  if (info.is_resource_request) {
    if (m.has_non_resource_urls) return false;
    if (m.has_resources) {
      const bool hit = std::any_of(c.resources.begin(), c.resources.end(), [&](const ResourcePattern& p) {
        if (!glob_match(p.resource, info.resource)) return false;
        if (info.subresource.empty()) return !p.with_subresource || p.any_subresource;
        return p.with_subresource && (p.any_subresource || glob_match(p.subresource, info.subresource));
      });
      if (!hit) return false;
    }
    if (!m.api_groups.matches(info.api_group)) return false;
    if (!m.namespaces.matches(info.namespace_name)) return false;
    if (!m.names.matches(info.name)) return false;
  } else {
    if (m.has_resources) return false;
    if (m.has_non_resource_urls && !m.non_resource_urls.matches(info.path)) return false;
    // A rule that names namespaces, objects or groups is about resources.
    if (!m.namespaces.matches_everything() || !m.names.matches_everything() || !m.api_groups.matches_everything())
      return false;
  }
  if (!m.clusters.matches(req.cluster)) return false;
  if (!m.users.matches(req.who.user)) return false;
  return any_group_matches(m.groups, req.who);
}

std::vector<const Rule*> PolicyEngine::candidates(const PolicyRequest& req) const {
  std::vector<const Rule*> out;
  const auto vbit = verb_bit(req.info.verb);
  for (std::size_t i = 0; i < policy_.rules.size(); ++i)
    if (attributes_match(policy_.rules[i], compiled_[i], req, vbit)) out.push_back(&policy_.rules[i]);
  return out;
}

Needs PolicyEngine::needs(const std::vector<const Rule*>& candidates, const common::RequestInfo& info) const {
  Needs n;
  for (const Rule* r : candidates) {
    for (const auto& set : r->when) {
      if (set.needs_object()) {
        if (resolve_subject(set.object, info) == Subject::request) n.request_body = true;
        else n.live_object = true;
      }
      if (set.needs_namespace()) n.namespace_object = true;
    }
  }
  return n;
}

Decision PolicyEngine::decide(const std::vector<const Rule*>& candidates, const PolicyRequest& req,
                              const Evidence& ev) const {
  Decision best;
  best.action = policy_.default_action;
  bool have_rule = false;
  for (const Rule* rule : candidates) {
    if (have_rule && rule->action <= best.action) continue;  // cannot change the outcome
    // Unknown evidence resolves toward the stricter outcome: it makes an approve or deny rule
    // apply and keeps an allow rule out.
    const bool unknown_holds = rule->action != Action::allow;
    std::vector<std::string> assumed;
    bool applies = rule->when.empty();
    for (const auto& set : rule->when) {
      bool holds = true;
      if (set.needs_object()) {
        const bool from_request = resolve_subject(set.object, req.info) == Subject::request;
        const nlohmann::json* object = from_request ? ev.request_body : ev.live_object;
        if (object && object->is_object()) {
          holds = object_conditions_hold(set, *object);
        } else if (!from_request && ev.live_object_absent) {
          holds = false;  // nothing there to be privileged
        } else {
          holds = unknown_holds;
          assumed.push_back(from_request ? (object ? "the request body is a JSON Patch" : "the request body is not JSON")
                                         : "the live object could not be read");
        }
      }
      if (holds && set.needs_namespace()) {
        if (ev.namespace_object) {
          holds = namespace_conditions_hold(set, *ev.namespace_object);
        } else if (ev.namespace_absent || req.info.namespace_name.empty()) {
          holds = false;
        } else {
          holds = unknown_holds;
          assumed.push_back("the namespace's labels could not be read");
        }
      }
      if (holds) {
        applies = true;
        break;
      }
    }
    if (!applies) continue;
    if (!have_rule || rule->action > best.action) {
      best.action = rule->action;
      best.rule = rule;
      best.message = rule->message;
      best.assumed = std::move(assumed);
      have_rule = true;
    }
    if (best.action == Action::deny) break;  // nothing is stricter
  }
  if (!have_rule) {
    best.action = policy_.default_action;
    best.message = policy_.default_action == Action::allow ? "" : "no rule allows this request";
  } else if (best.message.empty()) {
    best.message = best.action == Action::deny ? "denied by policy rule '" + best.rule->name + "'"
                 : best.action == Action::approve ? "approval required by policy rule '" + best.rule->name + "'"
                                                  : "";
  }
  return best;
}

std::string explain(const Decision& d, const Policy& p) {
  std::string out = to_string(d.action);
  if (d.rule) {
    out += " by rule '" + d.rule->name + "' (" + p.source + ":" + std::to_string(d.rule->line) + ")";
  } else {
    out += " (the default action: no rule applied)";
  }
  if (!d.message.empty()) out += ": " + d.message;
  for (const auto& a : d.assumed) out += "\n  assumed to hold: " + a;
  return out;
}

}  // namespace sluice::gateway::policy
