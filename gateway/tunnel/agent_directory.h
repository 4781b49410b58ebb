// What the tunnel needs to know about registered clusters, so it does not depend on where they
// are stored (store/cluster_store.h implements it in PostgreSQL; tests may keep it in memory).
#pragma once
#include <string>

namespace sluice::gateway::tunnel {

class AgentDirectory {
 public:
  virtual ~AgentDirectory() = default;
  // The token is the agent token of this registered cluster (compared in constant time).
  virtual bool verify_agent_token(const std::string& cluster, const std::string& token) = 0;
  // An agent of `cluster` connected, running `agent_version`.
  virtual void record_check_in(const std::string& cluster, const std::string& agent_version) = 0;
};

}  // namespace sluice::gateway::tunnel
