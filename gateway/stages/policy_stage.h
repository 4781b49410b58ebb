// allow, deny or approve, by the policy's rules (gateway/policy/), with what their conditions read
// fetched through the tunnel as the requester (server/policy_check.h). An `approve` decision is
// left to the approval stage; a gateway without a policy lets every authenticated request on.
#pragma once
#include "gateway/pipeline/chain.h"
#include "gateway/server/proxy_context.h"

namespace sluice::gateway::stages {

class PolicyStage : public pipeline::Stage {
 public:
  explicit PolicyStage(ProxyContext& ctx) : ctx_(ctx) {}
  const char* name() const override { return "policy"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  // The client went away while the lookups ran: they stop, and no verdict comes.
  void on_destroy(pipeline::RequestContext&) override { cancel_->cancel(); }

 private:
  ProxyContext& ctx_;
  common::Cancel cancel_ = common::make_cancel();
};

}  // namespace sluice::gateway::stages
