// The recording of the exchange (gateway/recording/): the request as masked for the record, the
// response as the client got it (on the way back it runs after response masking), and exec
// streams as asciicast. On completion the recording is closed, with the code the client got when
// no response came from the cluster.
#pragma once
#include <memory>
#include <optional>
#include <utility>

#include "gateway/pipeline/chain.h"
#include "gateway/recording/exchange_recorder.h"
#include "gateway/server/proxy_context.h"

namespace sluice::gateway::stages {

class RecordingStage : public pipeline::Stage {
 public:
  explicit RecordingStage(ProxyContext& ctx) : ctx_(ctx) {}
  const char* name() const override { return "recording"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  pipeline::Passed on_response_head(pipeline::RequestContext& ctx, pipeline::ResponseStart& head) override;
  pipeline::Passed on_response_data(pipeline::RequestContext& ctx, std::string& data, bool end) override;
  void on_request_data(pipeline::RequestContext& ctx, const std::string& data) override;
  void on_complete(const pipeline::RequestContext& ctx) override;

 private:
  ProxyContext& ctx_;
  std::unique_ptr<recording::ExchangeRecorder> recorder_;
  std::optional<std::pair<int, nlohmann::json>> pending_head_;  // the cluster's head, not yet recorded
};

}  // namespace sluice::gateway::stages
