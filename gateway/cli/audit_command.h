// `sluice-gateway audit list`: recent audit events, filtered, as a table or JSON.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_audit(const std::vector<std::string>& args);
}
