#include "gateway/stages/response_masking_stage.h"

namespace sluice::gateway::stages {

pipeline::Passed ResponseMaskingStage::on_response_head(pipeline::RequestContext& ctx, pipeline::ResponseStart& head) {
  if (ctx.masking_plan.kind == masking::MaskingPlan::Kind::none || (head.bodiless && !head.upgraded))
    return common::Done{};
  std::string refusal;
  filter_ = masking::ResponseFilter::start(ctx.masking_plan, head.status, head.header("Content-Type"),
                                           head.header("Content-Encoding"), head.header("Sec-WebSocket-Protocol"),
                                           refusal);
  if (!refusal.empty()) return common::Error{502, refusal};
  if (filter_) head.body_rewritten = true;
  return common::Done{};
}

pipeline::Passed ResponseMaskingStage::on_response_data(pipeline::RequestContext&, std::string& data, bool end) {
  if (!filter_) return common::Done{};
  std::string masked;
  if (!filter_->feed(data, masked)) return failed();
  if (end && !filter_->finish(masked)) return failed();
  data = std::move(masked);
  return common::Done{};
}

void ResponseMaskingStage::on_response_idle(pipeline::RequestContext&, std::string& out) {
  if (filter_ && filter_->holding()) filter_->idle_flush(out);
}

pipeline::Passed ResponseMaskingStage::failed() const {
  return common::Error{502, "the cluster's answer could not be checked for secrets (" + filter_->error() + ")"};
}

}  // namespace sluice::gateway::stages
