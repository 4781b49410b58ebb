// Which cluster: /clusters/<name>/... names it; the rest of the path is what the cluster sees.
// 404 for a path outside the prefix or a cluster this gateway does not know.
#pragma once
#include "gateway/pipeline/chain.h"
#include "gateway/server/cluster_directory.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway::stages {

class RouteStage : public pipeline::Stage {
 public:
  RouteStage(tunnel::TunnelRegistry& tunnels, ClusterDirectory& clusters) : tunnels_(tunnels), clusters_(clusters) {}
  const char* name() const override { return "route"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;

 private:
  tunnel::TunnelRegistry& tunnels_;
  ClusterDirectory& clusters_;
};

}  // namespace sluice::gateway::stages
