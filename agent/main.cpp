// sluice-agent: runs in a cluster and dials out to the gateway; relays the gateway's requests to
// the local API server. One Asio thread does all API-server I/O; gRPC runs its own threads.
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <csignal>
#include <iostream>
#include <string>

#include "agent/health_listener.h"
#include "agent/tunnel_client.h"
#include "common/logging.h"
#include "common/tls_certs.h"
#include "common/token_compare.h"
#include "sluice/version.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  // OpenSSL writes the API-server sockets itself (TlsSocketStream) with send() without
  // MSG_NOSIGNAL: a server gone mid-write must be an EPIPE error, not the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  po::options_description opts("Usage: sluice-agent --gateway HOST:PORT --cluster NAME --token-file F --gateway-ca F [options]");
  opts.add_options()
      ("help,h", "show this help")
      ("version", "print the version")
      ("gateway", po::value<std::string>(), "the gateway's agent (gRPC) address, HOST:PORT")
      ("cluster", po::value<std::string>(), "the name this cluster is registered under at the gateway")
      ("token-file", po::value<std::string>(), "file holding the agent token printed by 'sluice-gateway cluster add'")
      ("gateway-ca", po::value<std::string>(), "CA bundle that signs the gateway's certificate")
      ("kubeconfig", po::value<std::string>(), "reach the API server through this kubeconfig instead of the in-cluster config")
      ("context", po::value<std::string>(), "kubeconfig context to use (default: current-context)")
      ("serviceaccount-dir", po::value<std::string>()->default_value("/var/run/secrets/kubernetes.io/serviceaccount"),
       "in-cluster: where the ServiceAccount token (followed as the kubelet rotates it) and ca.crt are")
      ("health-listen", po::value<std::string>(),
       "serve /healthz and /readyz (connected to the gateway) over plain HTTP on HOST:PORT, for the pod's probes")
      ("grace-seconds", po::value<int>()->default_value(30), "on SIGTERM, how long in-flight exchanges may take to finish")
      ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn or error");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "sluice-agent: " << e.what() << "\n\n" << opts;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "sluice-agent " << sluice::kVersion << "\n";
    return 0;
  }
  for (const char* required : {"gateway", "cluster", "token-file", "gateway-ca"}) {
    if (!vm.count(required)) {
      std::cerr << "sluice-agent: --" << required << " is required\n\n" << opts;
      return 2;
    }
  }
  for (const char* file : {"token-file", "gateway-ca", "kubeconfig"}) {
    if (vm.count(file) && !std::filesystem::is_regular_file(vm[file].as<std::string>())) {
      std::cerr << "sluice-agent: --" << file << " " << vm[file].as<std::string>() << ": no such file\n";
      return 2;
    }
  }
  if (!sluice::common::setup_logging(vm["log-level"].as<std::string>())) {
    std::cerr << "sluice-agent: unknown --log-level\n";
    return 2;
  }
  std::string error;
  auto upstream = vm.count("kubeconfig")
                      ? sluice::agent::load_kubeconfig(vm["kubeconfig"].as<std::string>(),
                                                       vm.count("context") ? vm["context"].as<std::string>() : "", error)
                      : sluice::agent::load_in_cluster(vm["serviceaccount-dir"].as<std::string>(), error);
  if (!upstream) {
    std::cerr << "sluice-agent: " << error << "\n";
    return 2;
  }
  sluice::agent::TunnelOptions options;
  options.gateway = vm["gateway"].as<std::string>();
  options.cluster = vm["cluster"].as<std::string>();
  options.token_file = vm["token-file"].as<std::string>();
  options.agent_version = sluice::kVersion;
  options.agent_id = sluice::common::random_token_hex(8);
  try {
    options.gateway_ca_pem = sluice::common::read_file(vm["gateway-ca"].as<std::string>());
    boost::asio::io_context io;
    sluice::agent::ConnectionPool pool(io, *upstream);
    sluice::agent::TunnelClient tunnel(io, pool, options);
    tunnel.start();
    std::unique_ptr<sluice::agent::HealthListener> health;
    if (vm.count("health-listen")) {
      const std::string listen = vm["health-listen"].as<std::string>();
      const auto colon = listen.rfind(':');
      if (colon == std::string::npos) {
        std::cerr << "sluice-agent: --health-listen takes HOST:PORT, e.g. 0.0.0.0:8080\n";
        return 2;
      }
      std::string host = listen.substr(0, colon);
      if (host.empty()) host = "0.0.0.0";
      health = std::make_unique<sluice::agent::HealthListener>(io, host, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))),
                                                               [&tunnel] { return tunnel.connected(); });
      spdlog::info("probes on http://{}:{}/healthz and /readyz", host, health->port());
    }
    spdlog::info("sluice-agent {} for cluster {}: gateway {}, API server https://{}:{}", sluice::kVersion, options.cluster,
                 options.gateway, upstream->host, upstream->port);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      tunnel.drain(std::chrono::seconds(vm["grace-seconds"].as<int>()), [&io] { io.stop(); });
    });
    io.run();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  spdlog::info("sluice-agent stopped");
  return 0;
}
