// The audit trail of a routed request. Every request that reached a cluster's route leaves a row:
// one the gateway refused is written here when it completes, as denied with its outcome (nothing
// was forwarded, so nothing waits for it); one that went on has its intent row committed before
// forwarding (audit_commit_stage.h), and here gets its outcome (code, duration, bytes).
#pragma once
#include "gateway/audit/audit_writer.h"
#include "gateway/pipeline/chain.h"
#include "gateway/tunnel/audited_fetch.h"

namespace sluice::gateway::stages {

class IntentAuditStage : public pipeline::Stage {
 public:
  explicit IntentAuditStage(audit::AuditWriter* writer) : writer_(writer) {}
  const char* name() const override { return "intent audit"; }
  pipeline::Next on_request(pipeline::RequestContext&, pipeline::Chain&) override { return pipeline::Next::Continue; }
  void on_complete(const pipeline::RequestContext& ctx) override;

 private:
  audit::AuditWriter* writer_;  // null: the gateway runs without an audit trail
};

// The intent row of the request, as far as the stages have decided it.
audit::AuditIntent intent_of(const pipeline::RequestContext& ctx);
audit::AuditOutcome outcome_of(const pipeline::RequestContext& ctx, int code);
// For the gateway's own requests on behalf of this one (policy lookups, approval previews).
FetchAudit fetch_audit_of(const pipeline::RequestContext& ctx, audit::AuditWriter* writer);

}  // namespace sluice::gateway::stages
