// sluice-agent: runs in a cluster and dials out to the gateway. This build parses and checks
// its flags; the tunnel client that uses them is the next step (see README, "Status").
#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>
#include <string>

#include "sluice/version.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description opts("Usage: sluice-agent --gateway HOST:PORT --cluster NAME --token-file F --gateway-ca F [options]");
  opts.add_options()
      ("help,h", "show this help")
      ("version", "print the version")
      ("gateway", po::value<std::string>(), "the gateway's agent (gRPC) address, HOST:PORT")
      ("cluster", po::value<std::string>(), "the name this cluster is registered under at the gateway")
      ("token-file", po::value<std::string>(), "file holding the agent token printed by 'sluice-gateway cluster add'")
      ("gateway-ca", po::value<std::string>(), "CA bundle that signs the gateway's certificate")
      ("kubeconfig", po::value<std::string>(), "reach the API server through this kubeconfig instead of the in-cluster config")
      ("context", po::value<std::string>(), "kubeconfig context to use (default: current-context)");
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
  std::cerr << "sluice-agent: flags are valid, but this build does not contain the tunnel client yet; "
               "nothing was started\n";
  return 1;
}
