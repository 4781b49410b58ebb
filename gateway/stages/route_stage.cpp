#include "gateway/stages/route_stage.h"

#include "gateway/pipeline/request_rewrite.h"

namespace sluice::gateway::stages {

pipeline::Next RouteStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  auto route = route_request(ctx.target);
  if (route && !ctx.sni_cluster.empty() && route->cluster != ctx.sni_cluster) {
    // Two answers to "which cluster": refuse rather than pick one.
    chain.send_local_reply(400, "the request's path names cluster \"" + route->cluster +
                                    "\" but its TLS server name names cluster \"" + ctx.sni_cluster +
                                    "\": use the kubeconfig 'sluice-gateway kubeconfig' writes for the cluster",
                           "BadRequest");
    return pipeline::Next::Stop;
  }
  if (!route && !ctx.sni_cluster.empty()) route = Route{ctx.sni_cluster, ctx.target};  // e.g. get --raw /version
  if (!route) {
    chain.send_local_reply(404, "the server could not find the requested resource: Sluice serves clusters under "
                                "/clusters/<name>/, or to a TLS server name <name>." +
                                    suffix_ + " (use a kubeconfig from 'sluice-gateway kubeconfig')",
                           "NotFound");
    return pipeline::Next::Stop;
  }
  ctx.cluster = route->cluster;
  ctx.cluster_target = route->target;
  if (tunnels_.has_tunnel(ctx.cluster) || clusters_.known(ctx.cluster)) return pipeline::Next::Continue;
  // Registered since the directory's last refresh? One database read, off this thread.
  clusters_.lookup_fresh(ctx.cluster, chain.on_strand([&chain](bool known) {
    if (known) return chain.continue_request();
    auto& c = chain.context();
    const std::string cluster = std::move(c.cluster);
    c.cluster.clear();  // a name nobody registered is not a metrics label (any client could mint them)
    chain.send_local_reply(404, "cluster \"" + cluster + "\" is not registered with this gateway",
                           "NotFound");
  }));
  return pipeline::Next::Stop;
}

}  // namespace sluice::gateway::stages
