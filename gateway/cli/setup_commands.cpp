#include "gateway/cli/setup_commands.h"

#include <openssl/evp.h>
#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/tls_certs.h"
#include "gateway/config/gateway_config.h"

namespace po = boost::program_options;

namespace sluice::gateway::cli {
namespace {
std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool parse(const std::vector<std::string>& args, po::options_description& opts, po::variables_map& vm, const char* cmd) {
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "sluice-gateway " << cmd << ": " << e.what() << "\n" << opts;
    return false;
  }
  return true;
}
}  // namespace

int run_certs(const std::vector<std::string>& args) {
  po::options_description opts("Usage: sluice-gateway certs --dir DIR [--hosts H1,H2]\n"
                               "Writes a self-signed CA (ca.crt, ca.key) and a serving certificate (tls.crt, tls.key)\n"
                               "for the demo and tests. Production gateways use certificates from your own PKI");
  std::string dir, hosts = "127.0.0.1,localhost", suffix = TlsFiles{}.cluster_name_suffix;
  opts.add_options()("help,h", "show this help")("dir", po::value(&dir), "output directory")
      ("hosts", po::value(&hosts), "comma-separated DNS names and IP addresses for the serving certificate")
      ("cluster-name-suffix", po::value(&suffix),
       "the certificate also covers *.SUFFIX, the TLS server names that name clusters (tls.cluster_name_suffix)");
  po::variables_map vm;
  if (!parse(args, opts, vm, "certs")) return 2;
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (dir.empty()) {
    std::cerr << "sluice-gateway certs: --dir is required\n";
    return 2;
  }
  common::LeafSpec spec{"sluice-gateway", {}, {}, {}, true, 365};
  std::stringstream ss(hosts);
  for (std::string h; std::getline(ss, h, ',');) {
    if (h.empty()) continue;
    (h.find_first_not_of("0123456789.:") == std::string::npos ? spec.ip_addresses : spec.dns_names).push_back(h);
  }
  if (!suffix.empty()) spec.dns_names.push_back("*." + suffix);
  try {
    std::filesystem::create_directories(dir);
    auto ca = common::generate_ca("sluice-gateway-ca");
    auto leaf = common::generate_leaf(ca, spec);
    common::write_file(dir + "/ca.crt", ca.cert_pem);
    common::write_file(dir + "/ca.key", ca.key_pem, 0600);
    common::write_file(dir + "/tls.crt", leaf.cert_pem + ca.cert_pem);
    common::write_file(dir + "/tls.key", leaf.key_pem, 0600);
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway certs: " << e.what() << "\n";
    return 1;
  }
  std::cout << "wrote " << dir << "/{ca.crt,ca.key,tls.crt,tls.key}\n";
  return 0;
}

int run_kubeconfig(const std::vector<std::string>& args) {
  po::options_description opts("Usage: sluice-gateway kubeconfig --cluster NAME (--token-file F | --oidc ISSUER --client-id ID)\n"
                               "                                 [--config FILE]\n"
                               "Prints a kubeconfig that reaches cluster NAME through this gateway. With --oidc its user runs\n"
                               "`sluice-gateway login` (an exec credential plugin) for an ID token of that issuer");
  std::string cluster, token_file, config, server, ca_file, user = "sluice", suffix, cert_file;
  std::string oidc_issuer, oidc_client, oidc_ca, oidc_token_file;
  bool server_name = true;
  opts.add_options()("help,h", "show this help")("cluster", po::value(&cluster), "cluster name")
      ("token-file", po::value(&token_file), "file holding the caller's bearer token")
      ("oidc", po::value(&oidc_issuer), "log in through this OIDC issuer instead (kubectl runs sluice-gateway login)")
      ("client-id", po::value(&oidc_client), "with --oidc: kubectl's client at the issuer (default: the config's client_id for it)")
      ("oidc-ca-file", po::value(&oidc_ca), "with --oidc: CA of the issuer's HTTPS (default: the config's ca_file for it)")
      ("device", "with --oidc: log in with the device flow (machines without a browser)")
      ("oidc-token-file", po::value(&oidc_token_file), "with --oidc: take the ID token from this file (CI pipelines)")
      ("config", po::value(&config), "gateway configuration (public_url, tls.ca_file)")
      ("server", po::value(&server), "gateway URL (default: the config's public_url)")
      ("ca-file", po::value(&ca_file), "CA of the gateway's certificate (default: the config's tls.ca_file)")
      ("user", po::value(&user), "name of the user entry in the kubeconfig")
      ("cluster-name-suffix", po::value(&suffix),
       "tls-server-name is NAME.SUFFIX (default: the config's tls.cluster_name_suffix)")
      ("tls-server-name", po::value(&server_name),
       "write tls-server-name NAME.SUFFIX, so paths without /clusters/NAME (get --raw /version) reach the cluster "
       "(default true; with --config, only when the serving certificate covers it)");
  po::variables_map vm;
  if (!parse(args, opts, vm, "kubeconfig")) return 2;
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (!config.empty()) {
    std::string error;
    auto cfg = load_gateway_config(config, error);
    if (!cfg) {
      std::cerr << "sluice-gateway kubeconfig: " << error << "\n";
      return 2;
    }
    if (server.empty()) server = cfg->public_url;
    if (ca_file.empty()) ca_file = cfg->tls.ca_file;
    if (suffix.empty()) suffix = cfg->tls.cluster_name_suffix;
    cert_file = cfg->tls.cert_file;
    for (const auto& o : cfg->oidc)
      if (o.issuer == oidc_issuer) {
        if (oidc_client.empty()) oidc_client = o.client_id;
        if (oidc_ca.empty()) oidc_ca = o.ca_file;
      }
  }
  if (suffix.empty()) suffix = TlsFiles{}.cluster_name_suffix;
  const bool oidc = !oidc_issuer.empty();
  if (cluster.empty() || (token_file.empty() && !oidc) || server.empty() || ca_file.empty()) {
    std::cerr << "sluice-gateway kubeconfig: --cluster, --token-file (or --oidc) and either --config or --server and --ca-file "
                 "are required\n";
    return 2;
  }
  if (oidc && (oidc_issuer.rfind("https://", 0) != 0 || (oidc_client.empty() && oidc_token_file.empty()))) {
    std::cerr << "sluice-gateway kubeconfig: --oidc takes an https issuer URL, and needs --client-id (or a config whose "
                 "auth.oidc entry for it has a client_id)\n";
    return 2;
  }
  std::string token, ca;
  try {
    if (!oidc) token = common::read_file(token_file);
    ca = common::read_file(ca_file);
  } catch (const std::exception& e) {
    std::cerr << "sluice-gateway kubeconfig: " << e.what() << "\n";
    return 1;
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  const std::string sni = cluster + "." + suffix;
  if (server_name && !cert_file.empty()) {
    std::string cert;
    try {
      cert = common::read_file(cert_file);
    } catch (const std::exception&) {
    }
    if (!common::certificate_covers(cert, sni)) {
      std::cerr << "sluice-gateway kubeconfig: the serving certificate " << cert_file << " does not cover " << sni
                << " (add *." << suffix << " to it): no tls-server-name written, so paths without /clusters/"
                << cluster << " (kubectl get --raw /version) will get 404\n";
      server_name = false;
    }
  }
  std::cout << "apiVersion: v1\nkind: Config\nclusters:\n- name: " << cluster << "\n  cluster:\n    server: " << server
            << "/clusters/" << cluster << "\n";
  if (server_name) std::cout << "    tls-server-name: " << sni << "\n";
  std::cout << "    certificate-authority-data: " << base64(ca) << "\nusers:\n- name: " << user << "\n  user:\n";
  if (!oidc) {
    std::cout << "    token: " << token << "\n";
  } else {
    // kubectl runs this very binary as its credential plugin; arguments are JSON strings (valid YAML).
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    std::vector<std::string> login = {"login", "--issuer", oidc_issuer};
    if (!oidc_client.empty()) login.insert(login.end(), {"--client-id", oidc_client});
    if (!oidc_ca.empty()) login.insert(login.end(), {"--ca-file", std::filesystem::absolute(oidc_ca).string()});
    if (vm.count("device")) login.push_back("--device");
    if (!oidc_token_file.empty()) login.insert(login.end(), {"--token-file", std::filesystem::absolute(oidc_token_file).string()});
    std::cout << "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: "
              << nlohmann::json(ec ? std::string("sluice-gateway") : self.string()).dump() << "\n      args:\n";
    for (const auto& a : login) std::cout << "      - " << nlohmann::json(a).dump() << "\n";
    std::cout << "      interactiveMode: IfAvailable\n      provideClusterInfo: false\n";
  }
  std::cout << "contexts:\n- name: " << cluster << "\n  context:\n    cluster: " << cluster << "\n    user: " << user
            << "\ncurrent-context: " << cluster << "\n";
  return 0;
}

}  // namespace sluice::gateway::cli
