#include "gateway/cli/cluster_command.h"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "common/tls_certs.h"
#include "gateway/cli/agent_manifest.h"
#include "gateway/config/gateway_config.h"
#include "gateway/store/cluster_store.h"

namespace po = boost::program_options;

namespace sluice::gateway::cli {

std::string database_url_from(const std::string& flag_url, const std::string& config_path, std::string& error) {
  if (!flag_url.empty()) return flag_url;
  if (!config_path.empty()) {
    auto cfg = load_gateway_config(config_path, error);
    return cfg ? cfg->database_url : "";
  }
  if (const char* env = std::getenv("SLUICE_DATABASE_URL")) return env;
  error = "no database: pass --database URL or --config FILE, or set SLUICE_DATABASE_URL";
  return "";
}

int run_cluster(const std::vector<std::string>& args) {
  po::options_description opts(
      "Usage: sluice-gateway cluster add NAME [--rotate] [--manifest [--gateway-address HOST:PORT] [--image I]]\n"
      "       sluice-gateway cluster list [-o json] | remove NAME\n"
      "Registers the clusters whose agents may connect. 'add' prints the agent token once; only its\n"
      "SHA-256 is stored. With --manifest it prints instead the agent's manifests for that cluster with\n"
      "the token, the gateway's address and CA in them: cluster add NAME --manifest | kubectl apply -f -");
  std::string action, name, output, database, config, gateway_address, image = "sluice:latest";
  opts.add_options()("help,h", "show this help")
      ("database", po::value(&database), "PostgreSQL URL (default: from --config, or $SLUICE_DATABASE_URL)")
      ("config", po::value(&config), "gateway configuration file, for its database.url")
      ("rotate", "with add: replace the token of an existing cluster")
      ("manifest", "with add: print the agent's install manifests (agent/deploy) with the token in them")
      ("gateway-address", po::value(&gateway_address),
       "with --manifest: where agents dial the gateway, HOST:PORT (default: public_url's host, agent_listen's port)")
      ("image", po::value(&image), "with --manifest: the agent's container image (default sluice:latest)")
      ("output,o", po::value(&output), "list output: table (default) or json");
  po::options_description hidden;
  hidden.add_options()("action", po::value(&action))("name", po::value(&name));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("action", 1).add("name", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "sluice-gateway cluster: " << e.what() << "\n" << opts;
    return 2;
  }
  if (vm.count("help") || action.empty()) {
    (action.empty() && !vm.count("help") ? std::cerr : std::cout) << opts;
    return vm.count("help") ? 0 : 2;
  }
  std::string error;
  const std::string url = database_url_from(database, config, error);
  if (url.empty()) {
    std::cerr << "sluice-gateway cluster: " << error << "\n";
    return 2;
  }
  try {
    store::ClusterStore clusters(url);
    if (action == "add") {
      if (name.empty()) {
        std::cerr << "sluice-gateway cluster add: a cluster NAME is required\n";
        return 2;
      }
      if (!vm.count("manifest")) {
        std::cout << clusters.add(name, vm.count("rotate") > 0) << "\n";
        std::cerr << "Cluster " << name << " registered. The line above is its agent token; it is not shown again.\n";
        return 0;
      }
      // Everything the manifest needs is checked before the cluster is registered.
      auto cfg = config.empty() ? std::nullopt : load_gateway_config(config, error);
      if (!cfg) {
        std::cerr << "sluice-gateway cluster add --manifest: " << (config.empty() ? "--config is required (the gateway's CA and address)" : error) << "\n";
        return 2;
      }
      std::string ca_pem;
      try {
        ca_pem = common::read_file(cfg->tls.ca_file);
      } catch (const std::exception& e) {
        std::cerr << "sluice-gateway cluster add --manifest: tls.ca_file: " << e.what() << "\n";
        return 2;
      }
      if (gateway_address.empty()) {
        std::string host, listen_host;
        unsigned short port = 0, public_port = 0;
        const std::string after_scheme = cfg->public_url.substr(cfg->public_url.find("://") + 3);
        split_host_port(cfg->agent_listen, listen_host, port);
        if (!split_host_port(after_scheme.substr(0, after_scheme.find('/')), host, public_port))
          host = after_scheme.substr(0, after_scheme.find('/'));
        gateway_address = host + ":" + std::to_string(port);
        if (port == 0) {
          std::cerr << "sluice-gateway cluster add --manifest: agent_listen has no fixed port; pass --gateway-address\n";
          return 2;
        }
      }
      std::string host;
      unsigned short port = 0;
      if (!split_host_port(gateway_address, host, port) || port == 0) {
        std::cerr << "sluice-gateway cluster add --manifest: --gateway-address takes HOST:PORT, not \"" << gateway_address << "\"\n";
        return 2;
      }
      const std::string token = clusters.add(name, vm.count("rotate") > 0);
      std::cout << render_agent_manifest({name, token, gateway_address, ca_pem, image});
      std::cerr << "Cluster " << name << " registered. Its agent token is in the manifest above (a Secret); apply it to\n"
                << "the cluster with kubectl apply -f - and do not keep it. Agents will dial " << gateway_address << ".\n";
      return 0;
    }
    if (action == "remove") {
      if (!clusters.remove(name)) {
        std::cerr << "sluice-gateway cluster remove: no cluster named " << name << "\n";
        return 1;
      }
      return 0;
    }
    if (action == "list") {
      auto list = clusters.list();
      if (output == "json") {
        nlohmann::json items = nlohmann::json::array();
        for (const auto& c : list)
          items.push_back({{"name", c.name}, {"connected", c.connected}, {"agentVersion", c.agent_version.value_or("")},
                           {"lastSeen", c.last_seen ? nlohmann::json(*c.last_seen) : nlohmann::json(nullptr)},
                           {"createdAt", c.created_at}});
        std::cout << nlohmann::json{{"items", items}}.dump(2) << "\n";
        return 0;
      }
      if (!output.empty() && output != "table") {
        std::cerr << "sluice-gateway cluster list: -o takes table or json\n";
        return 2;
      }
      std::cout << std::left << std::setw(24) << "NAME" << std::setw(11) << "CONNECTED" << std::setw(16) << "AGENT VERSION"
                << "LAST SEEN\n";
      for (const auto& c : list)
        std::cout << std::setw(24) << c.name << std::setw(11) << (c.connected ? "yes" : "no") << std::setw(16)
                  << c.agent_version.value_or("-") << c.last_seen.value_or("never") << "\n";
      return 0;
    }
    std::cerr << "sluice-gateway cluster: unknown action '" << action << "'\n" << opts;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway cluster " << action << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sluice::gateway::cli
