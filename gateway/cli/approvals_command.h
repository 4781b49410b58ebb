// The reviewers' command line, talking to a gateway's /api/v1/approvals:
//   sluice-gateway approvals [--pending] [-o table|json]
//   sluice-gateway approvals show ID [-o json]
//   sluice-gateway approve ID [--reason R]
//   sluice-gateway reject ID --reason R
// Where and as whom: --server / $SLUICE_SERVER, --token-file / $SLUICE_TOKEN_FILE, --ca-file /
// $SLUICE_CA_FILE (the gateway's CA; default: the system's).
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {
int run_approvals(const std::vector<std::string>& args);
int run_vote(bool approve, const std::vector<std::string>& args);
}  // namespace sluice::gateway::cli
