// Requests refused whatever the policy says: impersonation by the client (requests reach then// cluster as the caller the gateway authenticated), and Secret patches a masked read would hiden// (gateway/masking/secret_patch_guard.h).
#pragma once
#include "gateway/pipeline/chain.h"

namespace sluice::gateway::stages {

class GuardStage : public pipeline::Stage {
 public:
  const char* name() const override { return "guard"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
};

}  // namespace sluice::gateway::stages
