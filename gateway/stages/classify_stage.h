// What the request is: its RequestInfo, read as kube-apiserver reads the method, path and queryn// (common/request_info.h). A request that cannot be read so is refused (400, or 422 for an invalidn// option, worded as kube-apiserver words it).
#pragma once
#include "gateway/pipeline/chain.h"

namespace sluice::gateway::stages {

class ClassifyStage : public pipeline::Stage {
 public:
  const char* name() const override { return "classify"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
};

}  // namespace sluice::gateway::stages
