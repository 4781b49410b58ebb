// What the tunnel needs to know about registered clusters, so it does not depend on where they
// are stored (cli/serve_command.cpp answers from PostgreSQL through store::Database; tests may
// answer from memory). Both calls return at once: the answer may need the database, which must
// not be waited for on a gRPC thread.
#pragma once
#include <functional>
#include <string>

#include "common/result.h"

namespace sluice::gateway::tunnel {

class AgentDirectory {
 public:
  virtual ~AgentDirectory() = default;
  // Whether `token` is the agent token of registered `cluster` (compared in constant time), or an
  // error when that cannot be known. `done` runs once, on any thread (possibly this one).
  virtual void verify_agent_token(const std::string& cluster, const std::string& token,
                                  std::function<void(common::Result<bool>)> done) = 0;
  // An agent of `cluster` connected or sent a heartbeat, running `agent_version`. Best effort.
  virtual void record_check_in(const std::string& cluster, const std::string& agent_version) = 0;
};

}  // namespace sluice::gateway::tunnel
