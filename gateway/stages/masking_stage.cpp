#include "gateway/stages/masking_stage.h"

#include "gateway/stages/refuse.h"

namespace sluice::gateway::stages {

pipeline::Next MaskingStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  ctx.masking_plan = masking::plan_masking(ctx.info, ctx.masking_profile, ctx.reveal);
  auto why = masking::refuse_request(ctx.masking_plan, ctx.headers);
  if (!why) why = masking::refuse_masked_write(ctx.masking_plan, ctx.info, ctx.body);
  if (!why) return pipeline::Next::Continue;
  refuse(chain, 400, *why, "BadRequest");
  return pipeline::Next::Stop;
}

}  // namespace sluice::gateway::stages
