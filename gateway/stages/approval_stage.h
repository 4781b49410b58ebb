// approve: nothing is forwarded until reviewers approved exactly this request (server/approval_gate.h).
// While it is held, the front watches the client: if kubectl gives up, on_destroy cancels the
// approval instead of leaving it waiting for nobody.
#pragma once
#include "gateway/pipeline/chain.h"
#include "gateway/server/proxy_context.h"

namespace sluice::gateway::stages {

class ApprovalStage : public pipeline::Stage {
 public:
  explicit ApprovalStage(ProxyContext& ctx) : ctx_(ctx) {}
  const char* name() const override { return "approval"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  void on_destroy(pipeline::RequestContext& ctx) override;

 private:
  ProxyContext& ctx_;
  std::optional<ApprovalGate::Hold> hold_;  // set while reviewers decide
};

}  // namespace sluice::gateway::stages
