// The masking plan: what the answer must not show (Secret values, profile fields, detected secretsn// in logs and exec output). A request whose answer could not be masked is refused (400).
#pragma once
#include "gateway/pipeline/chain.h"

namespace sluice::gateway::stages {

class MaskingStage : public pipeline::Stage {
 public:
  const char* name() const override { return "masking"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
};

}  // namespace sluice::gateway::stages
