#include "gateway/stages/approval_stage.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "gateway/stages/intent_audit_stage.h"
#include "gateway/stages/refuse.h"

namespace sluice::gateway::stages {

pipeline::Next ApprovalStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (!ctx.approval_needed) return pipeline::Next::Continue;
  const auto& need = *ctx.approval_needed;
  if (!ctx_.approval_gate) {
    // Fail closed: without an approval store approval cannot be obtained, and a request that
    // needs it does not reach the cluster.
    refuse(chain, 403,
           need.message + " (Sluice policy rule '" + need.rule + "'): approval is required, and this gateway cannot "
           "obtain one; the request was not forwarded", "Forbidden");
    return pipeline::Next::Stop;
  }
  ApprovalAsk ask{ctx.cluster,
                  *ctx.identity,
                  ctx.info,
                  ctx.method,
                  ctx.cluster_target,
                  ctx.header("Content-Type"),
                  ctx.header("Content-Encoding"),
                  ctx.body,
                  ctx.header("Kubectl-Command"),
                  ctx.header("Kubectl-Session"),
                  need.rule,
                  need.message,
                  need.spec,
                  ctx.masking_profile,
                  fetch_audit_of(ctx, ctx_.audit),
                  ctx.source_ip,
                  ctx.header("User-Agent")};
  ctx_.approval_gate->decide(
      chain.executor(), std::move(ask),
      // Not chain.on_strand, which drops what comes after completion: a client that left while
      // the approval was being stored must still cancel it, or it waits for nobody.
      [this, self = chain.shared_from_this()](ApprovalGate::Hold hold) {
        boost::asio::post(self->executor(), [this, self, hold = std::move(hold)] {
          if (self->completed()) {
            spdlog::info("approval {}: its client went away before it was stored", hold.id);
            return ctx_.approval_gate->client_gone(hold);
          }
          hold_ = hold;
          self->watch_client();
        });
      },
      chain.on_strand([this, &chain](ApprovalVerdict v) {
        hold_.reset();
        auto& c = chain.context();
        c.approval_id = v.approval_id;
        if (!v.forward) return refuse(chain, v.code, v.message, v.code == 429 ? "TooManyRequests" : "Forbidden");
        c.decision_reason = v.audit_reason;
        c.reveal = c.approval_needed->reveal;  // only an approved request may see Secret values
        chain.continue_request();
      }));
  return pipeline::Next::Stop;
}

void ApprovalStage::on_destroy(pipeline::RequestContext& ctx) {
  if (!hold_) return;
  spdlog::info("approval {}: the client of {} {} on {} went away while it was pending", hold_->id, ctx.method,
               ctx.cluster_target, ctx.cluster);
  ctx_.approval_gate->client_gone(*hold_);
  hold_.reset();
}

}  // namespace sluice::gateway::stages
