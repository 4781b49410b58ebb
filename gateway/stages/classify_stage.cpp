#include "gateway/stages/classify_stage.h"

#include "gateway/stages/refuse.h"

namespace sluice::gateway::stages {

pipeline::Next ClassifyStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  auto c = common::classify_request(ctx.method, ctx.cluster_target);
  ctx.info = std::move(c.info);
  ctx.classified = true;
  if (c.ok()) return pipeline::Next::Continue;
  if (c.code == 422)  // as kube-apiserver words an invalid option (errors.NewInvalid)
    refuse(chain, 422, "the request options are invalid: " + c.error, c.reason,
           {{"group", "meta.k8s.io"},
            {"kind", "Options"},
            {"causes", {{{"reason", c.cause_reason}, {"message", c.error}, {"field", c.cause_field}}}}});
  else
    refuse(chain, c.code, "the request cannot be understood: " + c.error, c.reason);
  return pipeline::Next::Stop;
}

}  // namespace sluice::gateway::stages
