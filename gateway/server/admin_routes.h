// The gateway's own endpoints on its HTTPS port, answered before anything is routed to a cluster:
// probes (/healthz, /readyz) and an open /metrics before authentication; the approvals,
// sessions and audit REST APIs and an authenticated /metrics after it.
#pragma once
#include "gateway/pipeline/chain.h"
#include "gateway/server/proxy_context.h"

namespace sluice::gateway {

class ProbeRoutesStage : public pipeline::Stage {
 public:
  explicit ProbeRoutesStage(ProxyContext& ctx) : ctx_(ctx) {}
  const char* name() const override { return "probe routes"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;

 private:
  ProxyContext& ctx_;
};

class ApiRoutesStage : public pipeline::Stage {
 public:
  explicit ApiRoutesStage(ProxyContext& ctx) : ctx_(ctx) {}
  const char* name() const override { return "api routes"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  void on_destroy(pipeline::RequestContext&) override { stop_export(); }
  void on_complete(const pipeline::RequestContext&) override { stop_export(); }

 private:
  void stop_export() {
    if (export_) export_->stop();
  }
  ProxyContext& ctx_;
  std::shared_ptr<AuditExportStream> export_;
};

}  // namespace sluice::gateway
