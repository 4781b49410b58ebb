#include "gateway/stages/guard_stage.h"

#include "gateway/masking/secret_patch_guard.h"
#include "gateway/pipeline/request_rewrite.h"
#include "gateway/stages/refuse.h"

namespace sluice::gateway::stages {

pipeline::Next GuardStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  for (const auto& [name, value] : ctx.headers)
    if (is_client_impersonation_header(name)) {
      refuse(chain, 403,
             "impersonation (kubectl --as/--as-group, Impersonate-* headers) is not allowed through Sluice: requests "
             "reach the cluster as the caller the gateway authenticated (" + ctx.identity->user + ")",
             "Forbidden");
      return pipeline::Next::Stop;
    }
  if (auto why = masking::refuse_secret_patch(ctx.info, ctx.header("Content-Type"), ctx.body)) {
    refuse(chain, 403, *why, "Forbidden");
    return pipeline::Next::Stop;
  }
  return pipeline::Next::Continue;
}

}  // namespace sluice::gateway::stages
