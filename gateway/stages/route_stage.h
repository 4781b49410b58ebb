// Which cluster: /clusters/<name>/... names it, and the rest of the path is what the cluster sees;
// without the prefix, the TLS server name <name>.<suffix> does (the whole path goes to it). 404
// when neither names a cluster, or for a cluster this gateway does not know; 400 when they differ.
#pragma once
#include <string>

#include "gateway/pipeline/chain.h"
#include "gateway/server/cluster_directory.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway::stages {

class RouteStage : public pipeline::Stage {
 public:
  // `suffix`: tls.cluster_name_suffix, named in the 404's hint.
  RouteStage(tunnel::TunnelRegistry& tunnels, ClusterDirectory& clusters, std::string suffix)
      : tunnels_(tunnels), clusters_(clusters), suffix_(std::move(suffix)) {}
  const char* name() const override { return "route"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;

 private:
  tunnel::TunnelRegistry& tunnels_;
  ClusterDirectory& clusters_;
  const std::string suffix_;
};

}  // namespace sluice::gateway::stages
