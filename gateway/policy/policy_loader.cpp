#include "gateway/policy/policy_loader.h"

#include <yaml-cpp/yaml.h>

#include "gateway/masking/masking_profile.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace sluice::gateway::policy {
namespace {

// A mistake in the file, thrown with the node it is about so the message can name the place.
struct PolicyError {
  YAML::Mark mark;
  std::string what;
};

[[noreturn]] void fail(const YAML::Node& at, const std::string& what) { throw PolicyError{at.Mark(), what}; }

void only_keys(const YAML::Node& map, const std::string& where, const std::set<std::string>& allowed) {
  if (!map.IsMap()) fail(map, where + " must be a mapping");
  for (const auto& kv : map) {
    const auto key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      std::string known;
      for (const auto& k : allowed) known += (known.empty() ? "" : ", ") + k;
      fail(kv.first, "unknown key '" + key + "' in " + where + " (known: " + known + ")");
    }
  }
}

std::string scalar(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) fail(n, what + " must be a string");
  return n.as<std::string>();
}

std::vector<std::string> string_list(const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  if (n.IsScalar()) {  // `verbs: delete` reads as `verbs: [delete]`
    out.push_back(n.as<std::string>());
    return out;
  }
  if (!n.IsSequence()) fail(n, what + " must be a list of strings");
  for (const auto& item : n) out.push_back(scalar(item, what + " entries"));
  if (out.empty()) fail(n, what + " is an empty list, which would match nothing; leave the key out to match anything");
  return out;
}

bool boolean(const YAML::Node& n, const std::string& what) {
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    fail(n, what + " must be true or false");
  }
}

Action parse_action(const YAML::Node& n) {
  const auto s = scalar(n, "action");
  if (s == "allow") return Action::allow;
  if (s == "deny") return Action::deny;
  if (s == "approve") return Action::approve;
  fail(n, "action must be allow, deny or approve, not '" + s + "'");
}

const std::set<std::string> kVerbs = {"get",   "list",   "watch",  "create", "update", "patch",
                                      "delete", "deletecollection", "proxy", "post", "put", "head",
                                      "options", "*"};

Match parse_match(const YAML::Node& m) {
  only_keys(m, "match", {"clusters", "users", "groups", "verbs", "apiGroups", "resources", "namespaces", "names",
                         "nonResourceURLs"});
  Match out;
  auto list = [&](const char* key, NameList& into) {
    if (m[key]) into = NameList(string_list(m[key], std::string("match.") + key));
  };
  list("clusters", out.clusters);
  list("users", out.users);
  list("groups", out.groups);
  list("apiGroups", out.api_groups);
  list("namespaces", out.namespaces);
  list("names", out.names);
  if (m["verbs"]) {
    const auto verbs = string_list(m["verbs"], "match.verbs");
    for (const auto& v : verbs)
      if (!kVerbs.count(v)) fail(m["verbs"], "unknown verb '" + v + "' in match.verbs (exec, attach and "
                                             "port-forward are the verb create on pods/exec, pods/attach, pods/portforward)");
    out.verbs = NameList(verbs);
  }
  if (m["resources"]) {
    out.resources = string_list(m["resources"], "match.resources");
    out.has_resources = true;
    for (const auto& r : out.resources)
      if (std::count(r.begin(), r.end(), '/') > 1 || r.empty() || r.front() == '/' || r.back() == '/')
        fail(m["resources"], "match.resources entry '" + r + "' must be RESOURCE or RESOURCE/SUBRESOURCE");
  }
  if (m["nonResourceURLs"]) {
    out.non_resource_urls = NameList(string_list(m["nonResourceURLs"], "match.nonResourceURLs"));
    out.has_non_resource_urls = true;
  }
  if (out.has_resources && out.has_non_resource_urls)
    fail(m, "match cannot list both resources and nonResourceURLs: a request is one or the other; write two rules");
  return out;
}

ConditionSet parse_conditions(const YAML::Node& w) {
  only_keys(w, "when", {"object", "privileged", "hostPID", "hostNetwork", "hostIPC", "hostPath", "hostProcess",
                        "addedCapabilities", "addedCapabilitiesOutside", "referencesSecrets", "grantsRole",
                        "grantsVerbs", "namespaceLabels"});
  ConditionSet c;
  if (w["object"]) {
    const auto s = scalar(w["object"], "when.object");
    if (s == "request") c.object = Subject::request;
    else if (s == "live") c.object = Subject::live;
    else if (s == "auto") c.object = Subject::automatic;
    else fail(w["object"], "when.object must be request, live or auto, not '" + s + "'");
  }
  if (w["privileged"]) c.privileged = boolean(w["privileged"], "when.privileged");
  if (w["hostPID"]) c.host_pid = boolean(w["hostPID"], "when.hostPID");
  if (w["hostNetwork"]) c.host_network = boolean(w["hostNetwork"], "when.hostNetwork");
  if (w["hostIPC"]) c.host_ipc = boolean(w["hostIPC"], "when.hostIPC");
  if (w["hostPath"]) c.host_path = boolean(w["hostPath"], "when.hostPath");
  if (w["hostProcess"]) c.host_process = boolean(w["hostProcess"], "when.hostProcess");
  if (w["addedCapabilities"]) c.added_capabilities = string_list(w["addedCapabilities"], "when.addedCapabilities");
  if (w["addedCapabilitiesOutside"])
    c.capabilities_outside = string_list(w["addedCapabilitiesOutside"], "when.addedCapabilitiesOutside");
  if (w["referencesSecrets"]) c.references_secrets = string_list(w["referencesSecrets"], "when.referencesSecrets");
  if (w["grantsVerbs"]) c.grants_verbs = string_list(w["grantsVerbs"], "when.grantsVerbs");
  if (w["grantsRole"]) c.grants_role = string_list(w["grantsRole"], "when.grantsRole");
  if (auto l = w["namespaceLabels"]) {
    if (!l.IsMap() || l.size() == 0) fail(l, "when.namespaceLabels must be a mapping of label to value");
    for (const auto& kv : l) c.namespace_labels[kv.first.as<std::string>()] = scalar(kv.second, "a label value");
  }
  if (!c.needs_object() && !c.needs_namespace()) fail(w, "when lists no condition");
  return c;
}

ApprovalSpec parse_approval(const YAML::Node& a) {
  only_keys(a, "approval", {"approvers", "minApprovals", "timeout", "mode"});
  ApprovalSpec s;
  if (!a["approvers"]) fail(a, "approval.approvers is required: who may approve (groups and/or users)");
  only_keys(a["approvers"], "approval.approvers", {"groups", "users"});
  if (a["approvers"]["groups"]) s.approvers.groups = string_list(a["approvers"]["groups"], "approval.approvers.groups");
  if (a["approvers"]["users"]) s.approvers.users = string_list(a["approvers"]["users"], "approval.approvers.users");
  if (s.approvers.groups.empty() && s.approvers.users.empty())
    fail(a["approvers"], "approval.approvers names nobody: list groups or users");
  if (a["minApprovals"]) {
    try {
      s.min_approvals = a["minApprovals"].as<int>();
    } catch (const YAML::Exception&) {
      fail(a["minApprovals"], "approval.minApprovals must be a number");
    }
    if (s.min_approvals < 1 || s.min_approvals > 20) fail(a["minApprovals"], "approval.minApprovals must be 1 to 20");
  }
  if (a["timeout"]) {
    const auto d = parse_duration(scalar(a["timeout"], "approval.timeout"));
    if (!d || d->count() < 1 || d->count() > 7 * 86400)
      fail(a["timeout"], "approval.timeout must be a duration from 1s to 7d, such as 90s, 10m or 2h");
    s.timeout = *d;
  }
  if (a["mode"]) {
    const auto m = scalar(a["mode"], "approval.mode");
    if (m == "hold") s.mode = ApprovalMode::hold;
    else if (m == "async") s.mode = ApprovalMode::async;
    else fail(a["mode"], "approval.mode must be hold or async, not '" + m + "'");
  }
  return s;
}

Rule parse_rule(const YAML::Node& r, std::set<std::string>& names) {
  only_keys(r, "a rule", {"name", "match", "when", "action", "message", "approval", "maskingProfile", "reveal"});
  Rule rule;
  rule.line = r.Mark().line + 1;
  if (!r["name"]) fail(r, "a rule needs a name (decisions and approvals name the rule that made them)");
  rule.name = scalar(r["name"], "name");
  if (rule.name.empty()) fail(r["name"], "a rule's name must not be empty");
  if (!names.insert(rule.name).second) fail(r["name"], "two rules are named '" + rule.name + "'");
  if (r["match"]) rule.match = parse_match(r["match"]);
  if (auto w = r["when"]) {
    if (w.IsSequence()) {
      for (const auto& alt : w) rule.when.push_back(parse_conditions(alt));
      if (rule.when.empty()) fail(w, "when is an empty list");
    } else {
      rule.when.push_back(parse_conditions(w));
    }
  }
  if (!r["action"]) fail(r, "rule '" + rule.name + "' needs an action: allow, deny or approve");
  rule.action = parse_action(r["action"]);
  if (r["message"]) rule.message = scalar(r["message"], "message");
  if (rule.action == Action::approve) {
    if (!r["approval"]) fail(r, "rule '" + rule.name + "' approves: it needs approval.approvers");
    rule.approval = parse_approval(r["approval"]);
  } else if (r["approval"]) {
    fail(r["approval"], "approval only belongs to a rule whose action is approve");
  }
  if (r["maskingProfile"]) rule.masking_profile = scalar(r["maskingProfile"], "maskingProfile");
  if (r["reveal"]) {
    rule.reveal = boolean(r["reveal"], "reveal");
    if (rule.reveal && rule.action != Action::approve)
      fail(r["reveal"], "reveal needs action approve: Secret values are shown unmasked only through an approved request");
  }
  return rule;
}

// One entry of fields: a FieldRule per path.
void parse_field_rules(const YAML::Node& f, std::vector<masking::FieldRule>& into) {
  only_keys(f, "a masking field", {"apiGroup", "resource", "paths"});
  masking::FieldRule rule;
  if (f["apiGroup"]) rule.api_group = scalar(f["apiGroup"], "apiGroup");
  if (!f["resource"]) fail(f, "a masking field needs resource (plural, as in the URL: configmaps, pods)");
  rule.resource = scalar(f["resource"], "resource");
  if (!f["paths"]) fail(f, "a masking field needs paths, such as data.*password* or spec.containers[*].env[*].value");
  for (const auto& path : string_list(f["paths"], "paths")) {
    std::string error;
    auto steps = masking::parse_field_path(path, error);
    if (!steps) fail(f["paths"], "masking path " + error);
    masking::FieldRule one = rule;
    one.path = path;
    one.steps = std::move(*steps);
    into.push_back(std::move(one));
  }
}

std::shared_ptr<const masking::MaskingProfile> parse_profile(const YAML::Node& p) {
  only_keys(p, "a masking profile", {"name", "fields", "detectors", "patterns"});
  auto profile = std::make_shared<masking::MaskingProfile>();
  if (!p["name"]) fail(p, "a masking profile needs a name (rules select it by maskingProfile)");
  profile->name = scalar(p["name"], "name");
  if (auto fields = p["fields"]) {
    if (!fields.IsSequence()) fail(fields, "fields must be a list");
    for (const auto& f : fields) parse_field_rules(f, profile->fields);
  }
  std::vector<std::string> detectors = masking::builtin_detector_names();  // all, unless listed
  if (auto d = p["detectors"]) {
    detectors.clear();
    if (!(d.IsSequence() && d.size() == 0)) detectors = string_list(d, "detectors");
  }
  for (const auto& name : detectors) {
    auto det = masking::builtin_detector(name);
    if (!det) {
      std::string known;
      for (const auto& k : masking::builtin_detector_names()) known += (known.empty() ? "" : ", ") + k;
      fail(p["detectors"], "unknown detector '" + name + "' (built in: " + known + "; add your own under patterns)");
    }
    profile->detectors.push_back(std::move(*det));
  }
  if (auto pats = p["patterns"]) {
    if (!pats.IsSequence()) fail(pats, "patterns must be a list of {name, regex}");
    for (const auto& pat : pats) {
      only_keys(pat, "a pattern", {"name", "regex"});
      if (!pat["name"] || !pat["regex"]) fail(pat, "a pattern needs name and regex");
      masking::Detector det;
      det.name = scalar(pat["name"], "name");
      const auto text = scalar(pat["regex"], "regex");
      try {
        det.pattern = boost::regex(text, boost::regex::perl);
      } catch (const boost::regex_error& e) {
        fail(pat["regex"], "regex '" + text + "' does not compile: " + e.what());
      }
      if (boost::regex_match(std::string(), det.pattern))
        fail(pat["regex"], "regex '" + text + "' matches the empty text, so it would mask between every byte");
      profile->detectors.push_back(std::move(det));
    }
  }
  return profile;
}

void parse_masking(const YAML::Node& m, Policy& p) {
  only_keys(m, "masking", {"defaultProfile", "profiles"});
  if (auto profiles = m["profiles"]) {
    if (!profiles.IsSequence()) fail(profiles, "masking.profiles must be a list");
    for (const auto& node : profiles) {
      auto profile = parse_profile(node);
      const auto name = profile->name;
      if (!p.masking_profiles.emplace(name, std::move(profile)).second)
        fail(node, "two masking profiles are named '" + name + "'");
    }
  }
  if (m["defaultProfile"]) {
    p.default_masking_profile = scalar(m["defaultProfile"], "masking.defaultProfile");
    if (!p.masking_profiles.count(p.default_masking_profile))
      fail(m["defaultProfile"], "masking.defaultProfile names no profile: '" + p.default_masking_profile + "'");
  }
}

}  // namespace

std::optional<std::chrono::seconds> parse_duration(const std::string& text) {
  static const std::regex part("([0-9]{1,7})([smhd])");
  if (text.empty()) return std::nullopt;
  long long total = 0;
  std::size_t pos = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), part), end; it != end; ++it) {
    if (static_cast<std::size_t>(it->position()) != pos) return std::nullopt;
    const long long n = std::stoll((*it)[1]);
    const char u = (*it)[2].str()[0];
    total += n * (u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : 86400);
    pos += it->length();
  }
  if (pos != text.size()) return std::nullopt;
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds d) {
  long long left = d.count();
  if (left <= 0) return "0s";
  std::string out;
  for (const auto& [unit, size] : {std::pair{'d', 86400LL}, {'h', 3600LL}, {'m', 60LL}, {'s', 1LL}}) {
    if (left >= size) {
      out += std::to_string(left / size) + unit;
      left %= size;
    }
  }
  return out;
}

std::optional<Policy> parse_policy(const std::string& yaml_text, const std::string& source_name, std::string& error) {
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsDefined() || root.IsNull()) fail(root, "the policy is empty");
    only_keys(root, "the policy", {"apiVersion", "kind", "defaultAction", "masking", "rules"});
    if (root["apiVersion"] && scalar(root["apiVersion"], "apiVersion") != "sluice.dev/v1")
      fail(root["apiVersion"], "apiVersion must be sluice.dev/v1");
    if (root["kind"] && scalar(root["kind"], "kind") != "Policy") fail(root["kind"], "kind must be Policy");
    Policy p;
    p.source = source_name;
    if (root["defaultAction"]) p.default_action = parse_action(root["defaultAction"]);
    if (auto rules = root["rules"]) {
      if (!rules.IsSequence()) fail(rules, "rules must be a list");
      std::set<std::string> names;
      for (const auto& r : rules) p.rules.push_back(parse_rule(r, names));
    }
    if (auto m = root["masking"]) parse_masking(m, p);
    for (std::size_t i = 0; i < p.rules.size(); ++i) {
      const auto& name = p.rules[i].masking_profile;
      if (!name.empty() && !p.masking_profiles.count(name))
        fail(root["rules"][i]["maskingProfile"], "maskingProfile names no profile under masking.profiles: '" + name + "'");
    }
    return p;
  } catch (const PolicyError& e) {
    std::ostringstream m;
    m << source_name;
    if (!e.mark.is_null()) m << ":" << e.mark.line + 1 << ":" << e.mark.column + 1;
    m << ": " << e.what;
    error = m.str();
  } catch (const YAML::Exception& e) {
    std::ostringstream m;
    m << source_name;
    if (!e.mark.is_null()) m << ":" << e.mark.line + 1 << ":" << e.mark.column + 1;
    m << ": " << e.msg;
    error = m.str();
  }
  return std::nullopt;
}

std::shared_ptr<const masking::MaskingProfile> masking_profile_for(const Policy& policy, const Rule* rule) {
  const std::string& name = rule && !rule->masking_profile.empty() ? rule->masking_profile : policy.default_masking_profile;
  if (auto it = policy.masking_profiles.find(name); it != policy.masking_profiles.end()) return it->second;
  return masking::default_profile();
}

std::optional<Policy> load_policy_file(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = path + ": cannot read the policy file";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_policy(text.str(), path, error);
}

}  // namespace sluice::gateway::policy
