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

pipeline::Passed RecordingStage::on_response_head(pipeline::RequestContext&, pipeline::ResponseStart& head) {
  if (!recorder_) return common::Done{};
  // Kept until the first data pass the way back: if response masking refuses them, the client gets
  // a 502 of the gateway's instead, and that is what on_complete records.
  pending_head_.emplace(head.status, nlohmann::json::array());
  for (const auto& [k, v] : head.headers) pending_head_->second.push_back({k, v});
  return common::Done{};
}

pipeline::Passed RecordingStage::on_response_data(pipeline::RequestContext&, std::string& data, bool) {
  if (!recorder_) return common::Done{};
  if (pending_head_) {
    recorder_->response_head(pending_head_->first, std::move(pending_head_->second));
    pending_head_.reset();
  }
  if (!data.empty()) recorder_->from_cluster(data);
  return common::Done{};
}

void RecordingStage::on_request_data(pipeline::RequestContext&, const std::string& data) {
  if (recorder_) recorder_->from_client(data);
}

void RecordingStage::on_complete(const pipeline::RequestContext& ctx) {
  if (!recorder_) return;
  if (!ctx.response_started) recorder_->response_head(ctx.status, nlohmann::json::array());
  recorder_->finish();
  recorder_.reset();
}

}  // namespace sluice::gateway::stages
