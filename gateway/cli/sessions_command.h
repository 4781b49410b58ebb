// `sluice-gateway sessions [show ID | export ID --asciicast]` and `sluice-gateway replay ID`: the
// recordings, read straight from PostgreSQL (--database, --config or $SLUICE_DATABASE_URL).
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_sessions(const std::vector<std::string>& args);
int run_replay(const std::vector<std::string>& args);
}  // namespace sluice::gateway::cli
