#include "gateway/stages/audit_commit_stage.h"

#include <spdlog/spdlog.h>

#include "gateway/stages/intent_audit_stage.h"

namespace sluice::gateway::stages {
pipeline::Next AuditCommitStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (!writer_) return pipeline::Next::Continue;
  ctx.intent_written = true;
  waiting_ = true;
  timer_.emplace(chain.executor());
  timer_->expires_after(writer_->options().commit_timeout);
  timer_->async_wait(chain.on_strand([this, &chain](boost::system::error_code ec) {
    if (!ec) committed(chain, false);
  }));
  writer_->record_intent(intent_of(ctx), chain.on_strand([this, &chain](bool ok) { committed(chain, ok); }));
  return pipeline::Next::Stop;
}

void AuditCommitStage::committed(pipeline::Chain& chain, bool ok) {
  if (!waiting_) return;  // the timer and the commit race: the first one decides
  waiting_ = false;
  cancel();
  if (ok) return chain.continue_request();
  const auto& ctx = chain.context();
  spdlog::warn("503 {} {} on {}: the audit row was not committed in time; not forwarded", ctx.metrics_verb(),
               ctx.audit_id, ctx.cluster);
  chain.send_local_reply(503, "audit store unavailable; request not forwarded", "ServiceUnavailable",
                         {{"Retry-After", pipeline::kRetryAfterSeconds}});
}

}  // namespace sluice::gateway::stages
