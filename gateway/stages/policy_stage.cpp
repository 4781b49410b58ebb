#include "gateway/stages/policy_stage.h"

#include "gateway/server/policy_check.h"
#include "gateway/stages/intent_audit_stage.h"
#include "gateway/stages/refuse.h"

namespace sluice::gateway::stages {

pipeline::Next PolicyStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (!ctx_.policy) return pipeline::Next::Continue;
  PolicyQuestion question{ctx.cluster,       *ctx.identity,        ctx.info, ctx.method, ctx.cluster_target,
                          ctx.header("Content-Type"), ctx.body, fetch_audit_of(ctx, ctx_.audit)};
  check_policy(chain.executor(), ctx_.tunnels, ctx_.policy->current(), std::move(question),
               chain.on_strand([&chain](PolicyVerdict verdict) {
                 auto& c = chain.context();
                 const auto& d = verdict.decision;
                 c.masking_profile = policy::masking_profile_for(verdict.engine->policy(), d.rule);
                 const std::string rule = d.rule ? "Sluice policy rule '" + d.rule->name + "'" : "Sluice's default policy";
                 if (d.action == policy::Action::deny)
                   return refuse(chain, 403, d.message + " (" + rule + ")", "Forbidden");
                 if (d.action == policy::Action::approve) {
                   if (!d.rule)  // the engine names the rule of every approve decision; without one, fail closed
                     return refuse(chain, 403, d.message + " (" + rule + "): approval is required", "Forbidden");
                   c.approval_needed = pipeline::RequestContext::ApprovalNeeded{d.rule->name, d.message,
                                                                                d.rule->approval, d.rule->reveal};
                 } else {
                   c.decision_reason = d.rule ? "allowed by rule " + d.rule->name : "";
                 }
                 chain.continue_request();
               }),
               cancel_);
  return pipeline::Next::Stop;
}

}  // namespace sluice::gateway::stages
