// `sluice-gateway policy check`: what the gateway would decide for a request, and which rule
// decided it, so a policy can be tested before it is deployed.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_policy(const std::vector<std::string>& args);
}
