// `sluice-gateway migrate --database URL`.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_migrate(const std::vector<std::string>& args);
}
