#include "gateway/cli/audit_command.h"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <regex>
#include <tuple>

#include "gateway/audit/audit_chain.h"
#include "gateway/audit/audit_event.h"
#include "gateway/audit/k8s_audit_event.h"
#include "gateway/cli/cluster_command.h"
#include "gateway/store/audit_store.h"

#include "gateway/cli/command_line.h"

namespace po = boost::program_options;

namespace sluice::gateway::cli {

namespace {
std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  return v.dump();
}
}  // namespace

int run_audit(const std::vector<std::string>& args) {
  po::options_description opts(
      "Usage: sluice-gateway audit list [--cluster C] [--user U] [--since 10m|TIME] [--verb V] [--resource R]\n"
      "                                 [--namespace NS] [--limit N] [-o table|json]\n"
      "       sluice-gateway audit export [--since 10m|TIME] [--until TIME]\n"
      "       sluice-gateway audit verify [--since 10m|TIME]\n"
      "list: recent audit events (the newest N that match, oldest first). --resource takes 'pods' or 'pods/exec'\n"
      "export: every event in the window, oldest first, one audit.k8s.io/v1 Event per line (JSON lines)\n"
      "verify: checks the hash chain over the audit rows; exits 1 and names the first broken link");
  std::string action, database, config, output = "table";
  store::AuditQuery q;
  std::string since, until;
  opts.add_options()("help,h", "show this help")
      ("database", po::value(&database), "PostgreSQL URL (default: from --config, or $SLUICE_DATABASE_URL)")
      ("config", po::value(&config), "gateway configuration file, for its database.url")
      ("cluster", po::value(&q.cluster), "only this cluster")
      ("user", po::value(&q.user), "only this user")
      ("since", po::value(&since), "only events received since: a duration (30s, 10m, 2h, 7d) or a timestamp")
      ("verb", po::value(&q.verb), "only this verb (get, list, watch, create, update, patch, delete, ...)")
      ("resource", po::value(&q.resource), "only this resource, or resource/subresource")
      ("namespace,n", po::value(&q.namespace_name), "only this namespace")
      ("until", po::value(&until), "export: only events received before this timestamp")
      ("limit", po::value(&q.limit), "at most this many events (default 50, at most 10000)")
      ("output,o", po::value(&output), "table (default) or json");
  po::options_description hidden;
  hidden.add_options()("action", po::value(&action));
  po::positional_options_description pos;
  pos.add("action", 1);
  po::variables_map vm;
  if (auto exit_code = parse_command_line("audit", args, opts, hidden, pos, vm)) return *exit_code;
  if (action != "list" && action != "export" && action != "verify") {
    std::cerr << "sluice-gateway audit: " << (action.empty() ? "an action is required" : "unknown action '" + action + "'")
              << "\n" << opts;
    return 2;
  }
  if (output != "table" && output != "json") {
    std::cerr << "sluice-gateway audit list: -o takes table or json\n";
    return 2;
  }
  if (q.limit < 1 || q.limit > 10000) {
    std::cerr << "sluice-gateway audit list: --limit must be between 1 and 10000\n";
    return 2;
  }
  for (auto [flag, given, into] : {std::tuple{"--since", &since, &q.since}, {"--until", &until, &until}}) {
    if (given->empty()) continue;
    *into = audit::since_to_timestamp(*given);
    if (into->empty()) {
      std::cerr << "sluice-gateway audit " << action << ": " << flag
                << " takes a duration (30s, 10m, 2h, 7d: that long ago) or a timestamp (2026-11-25T10:00:00Z), not \""
                << *given << "\"\n";
      return 2;
    }
  }
  std::string error;
  const std::string url = database_url_from(database, config, error);
  if (url.empty()) {
    std::cerr << "sluice-gateway audit: " << error << "\n";
    return 2;
  }
  if (action == "verify") {
    try {
      const auto report = audit::verify_audit_chain(url, q.since);
      if (report.broken) {
        std::cout << "audit chain BROKEN: " << *report.broken << "\n";
        return 1;
      }
      std::cout << "audit chain intact: " << report.rows << " rows in " << report.chains << " chain"
                << (report.chains == 1 ? "" : "s");
      if (report.unchained) std::cout << "; " << report.unchained << " older rows carry no chain";
      std::cout << "\n";
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "sluice-gateway audit verify: " << e.what() << "\n";
      return 2;
    }
  }
  if (action == "export") {
    try {
      store::export_audit_events(url, q.since, until, [](const nlohmann::json& row) {
        std::cout << audit::to_k8s_audit_event(row).dump() << "\n";
      });
      std::cout.flush();
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "sluice-gateway audit export: " << e.what() << "\n";
      return 1;
    }
  }
  try {
    auto events = store::list_audit_events(url, q);
    if (output == "json") {
      std::cout << nlohmann::json{{"items", events}}.dump(2) << "\n";
      return 0;
    }
    std::cout << std::left << std::setw(28) << "TIME" << std::setw(14) << "CLUSTER" << std::setw(20) << "USER"
              << std::setw(18) << "VERB" << std::setw(24) << "RESOURCE" << std::setw(16) << "NAMESPACE" << std::setw(28)
              << "NAME" << std::setw(6) << "CODE" << std::setw(10) << "DECISION" << "COMMAND\n";
    for (const auto& e : events) {
      std::string resource = e["resource"].get<std::string>();
      if (!e["subresource"].get<std::string>().empty()) resource += "/" + e["subresource"].get<std::string>();
      if (resource.empty()) resource = e["requestURI"].get<std::string>();
      std::cout << std::setw(28) << cell(e["receivedAt"]) << std::setw(14) << cell(e["cluster"]) << std::setw(20)
                << cell(e["user"]["username"]) << std::setw(18) << cell(e["verb"]) << std::setw(24) << cell(resource)
                << std::setw(16) << cell(e["namespace"]) << std::setw(28) << cell(e["name"]) << std::setw(6)
                << cell(e["responseCode"]) << std::setw(10) << cell(e["decision"]) << cell(e["kubectlCommand"]) << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway audit list: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sluice::gateway::cli
