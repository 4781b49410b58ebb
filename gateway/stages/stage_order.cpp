#include "gateway/stages/stage_order.h"

#include "gateway/server/admin_routes.h"
#include "gateway/stages/approval_stage.h"
#include "gateway/stages/audit_commit_stage.h"
#include "gateway/stages/authenticate_stage.h"
#include "gateway/stages/classify_stage.h"
#include "gateway/stages/guard_stage.h"
#include "gateway/stages/intent_audit_stage.h"
#include "gateway/stages/masking_stage.h"
#include "gateway/stages/policy_stage.h"
#include "gateway/stages/recording_stage.h"
#include "gateway/stages/response_masking_stage.h"
#include "gateway/stages/route_stage.h"
#include "gateway/tunnel/upstream_exchange.h"
#include "gateway/ui/ui_routes.h"

namespace sluice::gateway {

// In order for the request; the answer passes back through them in reverse (pipeline/stage.h).
std::vector<std::unique_ptr<pipeline::Stage>> build_stages(ProxyContext& ctx, ui::UiServices* ui) {
  std::vector<std::unique_ptr<pipeline::Stage>> s;
  s.push_back(std::make_unique<ProbeRoutesStage>(ctx));          // /healthz, /readyz, an open /metrics
  if (ui)                                               // /ui/: the reviewers' pages, by session cookie
    s.push_back(std::make_unique<ui::UiRoutesStage>(ctx, *ui));
  s.push_back(std::make_unique<stages::AuthenticateStage>(ctx.auth));  // who: 401 otherwise
  s.push_back(std::make_unique<ApiRoutesStage>(ctx));            // the gateway's REST APIs, /metrics
  s.push_back(std::make_unique<stages::RouteStage>(ctx.tunnels, ctx.clusters,  // which cluster: 404 otherwise
                                                   ctx.config.tls.cluster_name_suffix));
  s.push_back(std::make_unique<stages::IntentAuditStage>(ctx.audit));  // from here on every request leaves a row
  s.push_back(std::make_unique<stages::ClassifyStage>());        // what: RequestInfo, as kube-apiserver reads it
  s.push_back(std::make_unique<stages::GuardStage>());           // impersonation, Secret patches a mask would hide
  s.push_back(std::make_unique<stages::PolicyStage>(ctx));       // allow, deny, or approve
  s.push_back(std::make_unique<stages::ApprovalStage>(ctx));     // approve: reviewers decide, the request waits
  s.push_back(std::make_unique<stages::MaskingStage>());         // what the answer must not show
  s.push_back(std::make_unique<stages::RecordingStage>(ctx));    // the exchange, as the client sees it
  s.push_back(std::make_unique<stages::ResponseMaskingStage>()); // on the way back: the answer, masked
  s.push_back(std::make_unique<stages::AuditCommitStage>(ctx.audit));  // the intent row committed before forwarding
  s.push_back(std::make_unique<tunnel::UpstreamExchange>(        // the cluster, through its agent's tunnel
      ctx.tunnels, ctx.metrics, std::chrono::seconds(ctx.config.limits.exchange_wait_seconds)));
  return s;
}

}  // namespace sluice::gateway
