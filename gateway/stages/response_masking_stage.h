// Response masking (gateway/masking/response_masking.h): the cluster's answer as the masking plan
// lets the client see it. It sits after recording in the stage order, so on the way back it runs
// first and recording keeps what the client got. Fail closed: an answer that must be checked but
// cannot be read is refused before its head (502), and one that breaks off mid-way is cut off.
#pragma once
#include <memory>

#include "gateway/masking/response_masking.h"
#include "gateway/pipeline/chain.h"

namespace sluice::gateway::stages {

class ResponseMaskingStage : public pipeline::Stage {
 public:
  const char* name() const override { return "response masking"; }
  pipeline::Next on_request(pipeline::RequestContext&, pipeline::Chain&) override { return pipeline::Next::Continue; }
  pipeline::Passed on_response_head(pipeline::RequestContext& ctx, pipeline::ResponseStart& head) override;
  pipeline::Passed on_response_data(pipeline::RequestContext& ctx, std::string& data, bool end) override;
  bool holding() const override { return filter_ && filter_->holding(); }
  void on_response_idle(pipeline::RequestContext& ctx, std::string& out) override;
  void on_complete(const pipeline::RequestContext&) override { filter_.reset(); }

 private:
  pipeline::Passed failed() const;
  std::unique_ptr<masking::ResponseFilter> filter_;  // null: the answer passes unchanged
};

}  // namespace sluice::gateway::stages
