// `sluice-gateway audit list`: recent audit events, filtered, as a table or JSON.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_audit(const std::vector<std::string>& args);
// "90s", "10m", "2h", "7d" ago, or an RFC 3339 / PostgreSQL timestamp as given; "" when malformed.
std::string since_to_timestamp(const std::string& since);
}
