// `sluice-gateway certs` (a self-signed CA and serving certificate) and `sluice-gateway kubeconfig`.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_certs(const std::vector<std::string>& args);
int run_kubeconfig(const std::vector<std::string>& args);
}
