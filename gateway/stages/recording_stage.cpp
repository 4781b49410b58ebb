#include "gateway/stages/recording_stage.h"

#include <boost/beast/core/string.hpp>

#include "gateway/masking/json_stream_masker.h"

namespace sluice::gateway::stages {
namespace beast = boost::beast;

pipeline::Next RecordingStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain&) {
  if (!ctx_.recordings) return pipeline::Next::Continue;
  recording::ExchangeStart start;
  start.id = ctx.audit_id;
  start.session_key =
      recording::session_key(ctx.identity->user, ctx.cluster, ctx.header("Kubectl-Session"), ctx.connection_id);
  start.cluster = ctx.cluster;
  start.username = ctx.identity->user;
  start.kubectl_command = ctx.header("Kubectl-Command");
  start.started_at = ctx.received_at;
  const bool websocket = beast::iequals(ctx.header("Upgrade"), "websocket");
  const bool exec = ctx.info.api_group.empty() && ctx.info.resource == "pods" &&
                    (ctx.info.subresource == "exec" || ctx.info.subresource == "attach");
  start.kind = !ctx.upgrade ? "http" : exec && websocket ? "exec" : "raw";
  start.method = ctx.method;
  start.request_uri = ctx.cluster_target;
  start.request_headers = nlohmann::json::array();
  for (const auto& [name, value] : ctx.headers)  // credentials are never recorded
    if (!beast::iequals(name, "Authorization") && !beast::iequals(name, "Proxy-Authorization") &&
        !beast::iequals(name, "Cookie"))
      start.request_headers.push_back({name, value});
  recorder_ = std::make_unique<recording::ExchangeRecorder>(*ctx_.recordings, std::move(start),
                                                            ctx_.config.recording.max_body_bytes,
                                                            ctx.masking_plan.profile);
  ctx.recorder = recorder_.get();
  const std::string& body = ctx.body;
  if (body.empty()) return pipeline::Next::Continue;
  if (ctx.masking_plan.kind != masking::MaskingPlan::Kind::json) {
    recorder_->request_body(body);
    return pipeline::Next::Continue;
  }
  // A body of something masked is recorded masked; one that cannot be masked (protobuf, a JSON
  // Patch whose values sit outside `data`) is recorded by size and hash only.
  std::string content_type = ctx.header("Content-Type");
  for (auto& c : content_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  masking::JsonStreamMasker masker(ctx.masking_plan.scope);
  std::string masked;
  if (content_type.find("json-patch") == std::string::npos && masker.feed(body, masked) && masker.finish(masked))
    recorder_->request_body(masked);
  else
    recorder_->request_body_withheld(body);
  return pipeline::Next::Continue;
}

void RecordingStage::on_complete(const pipeline::RequestContext& ctx) {
  if (!recorder_) return;
  if (!ctx.response_started) recorder_->response_head(ctx.status, nlohmann::json::array());
  recorder_->finish();
  recorder_.reset();
}

}  // namespace sluice::gateway::stages
