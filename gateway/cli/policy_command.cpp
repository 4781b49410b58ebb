#include "gateway/cli/policy_command.h"

#include <boost/algorithm/string.hpp>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "common/request_info.h"
#include "gateway/policy/kubectl_request.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/policy/policy_loader.h"

#include "gateway/cli/command_line.h"

namespace po = boost::program_options;

namespace sluice::gateway::cli {
namespace {

std::string read_file(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json one_object(const std::string& path) {
  const auto docs = policy::yaml_documents(read_file(path));
  if (docs.size() != 1 || !docs.front().is_object()) throw std::invalid_argument(path + " must hold one object");
  return docs.front();
}

nlohmann::json decision_json(const policy::HttpRequest& r, const common::RequestInfo& info,
                             const policy::Decision& d) {
  nlohmann::json j = {{"method", r.method}, {"path", r.target}, {"verb", info.verb}, {"apiGroup", info.api_group},
                      {"resource", info.resource}, {"subresource", info.subresource},
                      {"namespace", info.namespace_name}, {"name", info.name},
                      {"decision", policy::to_string(d.action)}, {"rule", d.rule ? d.rule->name : ""},
                      {"ruleLine", d.rule ? d.rule->line : 0}, {"message", d.message}, {"assumed", d.assumed}};
  if (d.action == policy::Action::approve && d.rule) {
    const auto& a = d.rule->approval;
    j["approval"] = {{"approvers", {{"groups", a.approvers.groups}, {"users", a.approvers.users}}},
                     {"minApprovals", a.min_approvals}, {"timeoutSeconds", a.timeout.count()},
                     {"mode", policy::to_string(a.mode)}};
  }
  return j;
}

}  // namespace

int run_policy(const std::vector<std::string>& all_args) {
  const auto dashdash = std::find(all_args.begin(), all_args.end(), "--");
  const std::vector<std::string> args(all_args.begin(), dashdash);
  const std::vector<std::string> kubectl(dashdash == all_args.end() ? dashdash : dashdash + 1, all_args.end());
  po::options_description opts(
      "Usage: sluice-gateway policy check --policy FILE [--as USER] [--groups G1,G2] [--cluster C] [-n NS]\n"
      "           [--live FILE] [--namespace-labels k=v,...] [-o text|json] -- KUBECTL ARGUMENTS\n"
      "       sluice-gateway policy check --policy FILE ... --method M --path PATH [--body FILE]\n"
      "What the gateway would decide for the request, and the rule that decided it. Conditions on the\n"
      "live object (exec into a privileged pod) read --live; namespace labels come from --namespace-labels.\n"
      "Example: sluice-gateway policy check --policy p.yaml --as bot -- create clusterrolebinding x "
      "--clusterrole=admin --user=bot");
  std::string action, policy_file, user = "policy-check", groups, cluster = "default", ns = "default", method, path,
                      body_file, live_file, ns_labels, output = "text";
  opts.add_options()("help,h", "show this help")
      ("policy", po::value(&policy_file), "the policy file (required)")
      ("as", po::value(&user), "the requester's user name")
      ("groups", po::value(&groups), "the requester's groups, comma-separated")
      ("cluster", po::value(&cluster), "the cluster the request is for (default: default)")
      ("namespace,n", po::value(&ns), "the namespace for kubectl arguments without -n (default: default)")
      ("method", po::value(&method), "HTTP method, instead of kubectl arguments")
      ("path", po::value(&path), "request path and query, with --method")
      ("body", po::value(&body_file), "request body (JSON or YAML), with --method")
      ("live", po::value(&live_file), "the live object the request is about (JSON or YAML)")
      ("namespace-labels", po::value(&ns_labels), "the target namespace's labels: k=v,k2=v2")
      ("output,o", po::value(&output), "text (default) or json");
  po::options_description hidden;
  hidden.add_options()("action", po::value(&action));
  po::positional_options_description pos;
  pos.add("action", 1);
  po::variables_map vm;
  if (auto exit_code = parse_command_line("policy", args, opts, hidden, pos, vm)) return *exit_code;
  if (action != "check") {
    std::cerr << "sluice-gateway policy: " << (action.empty() ? "an action is required" : "unknown action '" + action + "'")
              << "\n" << opts;
    return 2;
  }
  if (policy_file.empty() || (method.empty() == kubectl.empty()) || (method.empty() != path.empty()) ||
      (output != "text" && output != "json")) {
    std::cerr << "sluice-gateway policy check: give --policy, and either kubectl arguments after -- or --method "
                 "and --path; -o takes text or json\n" << opts;
    return 2;
  }
  std::string error;
  auto loaded = policy::load_policy_file(policy_file, error);
  if (!loaded) {
    std::cerr << error << "\n";
    return 2;
  }
  const policy::PolicyEngine engine(std::move(*loaded));
  Identity who{user, "", {}, {}, "policy-check"};
  if (!groups.empty()) boost::split(who.groups, groups, boost::is_any_of(","));
  try {
    std::vector<policy::HttpRequest> requests;
    if (!method.empty()) {
      policy::HttpRequest r{boost::to_upper_copy(method), path, std::nullopt};
      if (!body_file.empty()) {
        const auto docs = policy::yaml_documents(read_file(body_file));
        if (docs.size() != 1) throw std::invalid_argument(body_file + " must hold one JSON or YAML document");
        r.body = docs.front();
      }
      requests.push_back(std::move(r));
    } else {
      requests = policy::kubectl_requests(kubectl, ns, [](const std::string& f) { return read_file(f); });
    }
    std::optional<nlohmann::json> live, ns_object;
    if (!live_file.empty()) live = one_object(live_file);
    if (!ns_labels.empty()) {
      ns_object = nlohmann::json{{"metadata", {{"labels", nlohmann::json::object()}}}};
      std::vector<std::string> pairs;
      boost::split(pairs, ns_labels, boost::is_any_of(","));
      for (const auto& kv : pairs) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) throw std::invalid_argument("--namespace-labels takes k=v pairs, not " + kv);
        (*ns_object)["metadata"]["labels"][kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    }
    nlohmann::json results = nlohmann::json::array();
    for (const auto& r : requests) {
      const auto c = common::classify_request(r.method, r.target);
      if (!c.ok()) throw std::invalid_argument(r.method + " " + r.target + ": " + c.error);
      policy::Evidence ev;
      if (r.body) ev.request_body = &*r.body;
      if (live) ev.live_object = &*live;
      if (ns_object) ev.namespace_object = &*ns_object;
      const auto d = engine.evaluate({cluster, who, c.info}, ev);
      if (output == "json") {
        results.push_back(decision_json(r, c.info, d));
        continue;
      }
      std::cout << r.method << " " << r.target << "\n  " << c.info.verb << " "
                << (c.info.is_resource_request ? c.info.resource_with_subresource() : c.info.path)
                << (c.info.namespace_name.empty() ? "" : " in " + c.info.namespace_name)
                << (c.info.name.empty() ? "" : ", name " + c.info.name) << "; cluster " << cluster << ", user " << user
                << (who.groups.empty() ? "" : " (groups " + groups + ")") << "\n  "
                << policy::explain(d, engine.policy()) << "\n";
      if (!d.assumed.empty()) std::cout << "  (give --live FILE or --namespace-labels to check those conditions)\n";
      if (d.action == policy::Action::approve && d.rule) {
        const auto& a = d.rule->approval;
        std::cout << "  approvers: groups [" << boost::join(a.approvers.groups, ", ") << "], users ["
                  << boost::join(a.approvers.users, ", ") << "]; " << a.min_approvals << " approval(s) within "
                  << a.timeout.count() << "s; mode " << policy::to_string(a.mode) << "\n";
      }
    }
    if (output == "json") std::cout << nlohmann::json{{"items", results}}.dump(2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway policy check: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace sluice::gateway::cli
