// `sluice-gateway serve --config FILE`: the gateway itself.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_serve(const std::vector<std::string>& args);
}
