#include "gateway/stages/intent_audit_stage.h"

namespace sluice::gateway::stages {

audit::AuditIntent intent_of(const pipeline::RequestContext& ctx) {
  audit::AuditIntent a;
  a.id = ctx.audit_id;
  a.received_at = ctx.received_at;
  a.cluster = ctx.cluster;
  if (ctx.identity) a.who = *ctx.identity;
  a.source_ip = ctx.source_ip;
  a.user_agent = ctx.header("User-Agent");
  a.kubectl_command = ctx.header("Kubectl-Command");
  a.kubectl_session = ctx.header("Kubectl-Session");
  a.request = ctx.info;
  a.request_uri = ctx.cluster_target;
  a.decision_reason = ctx.decision_reason;
  a.approval_id = ctx.approval_id;
  return a;
}

audit::AuditOutcome outcome_of(const pipeline::RequestContext& ctx, int code) {
  audit::AuditOutcome o;
  o.id = ctx.audit_id;
  o.received_at = ctx.received_at;
  o.response_code = code;
  o.finished_at = audit::Clock::now();
  o.duration_ms = std::chrono::duration<double, std::milli>(o.finished_at - ctx.received_at).count();
  o.bytes_in = ctx.bytes_in;
  o.bytes_out = ctx.bytes_out;
  return o;
}

FetchAudit fetch_audit_of(const pipeline::RequestContext& ctx, audit::AuditWriter* writer) {
  return {writer, ctx.audit_id, ctx.source_ip};
}

void IntentAuditStage::on_complete(const pipeline::RequestContext& ctx) {
  if (!writer_) return;
  if (ctx.intent_written) return writer_->record_outcome(outcome_of(ctx, ctx.status));
  if (ctx.refusal.empty()) return;  // not refused: the client left while it waited (an approval cancelled)
  auto intent = intent_of(ctx);
  intent.decision = "denied";
  intent.decision_reason = ctx.refusal;
  intent.outcome = outcome_of(ctx, ctx.status);
  writer_->record_intent(std::move(intent), [](bool) {});  // nothing was forwarded: no need to wait
}

}  // namespace sluice::gateway::stages
