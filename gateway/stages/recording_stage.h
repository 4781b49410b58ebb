// The recording of the exchange (gateway/recording/): the request as masked for the record, the
// response as the client got it (fed by the upstream stage through ctx.recorder), and exec
// streams as asciicast. On completion the recording is closed, with the code the client got when
// no response came from the cluster.
#pragma once
#include <memory>

#include "gateway/pipeline/chain.h"
#include "gateway/recording/exchange_recorder.h"
#include "gateway/server/proxy_context.h"

namespace sluice::gateway::stages {

class RecordingStage : public pipeline::Stage {
 public:
  explicit RecordingStage(ProxyContext& ctx) : ctx_(ctx) {}
  const char* name() const override { return "recording"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  void on_complete(const pipeline::RequestContext& ctx) override;

 private:
  ProxyContext& ctx_;
  std::unique_ptr<recording::ExchangeRecorder> recorder_;
};

}  // namespace sluice::gateway::stages
