#include "gateway/server/admin_routes.h"

#include <boost/algorithm/string/join.hpp>

#include <spdlog/spdlog.h>

#include "gateway/server/approvals_api.h"

namespace sluice::gateway {
namespace {
constexpr const char* kMetricsType = "text/plain; version=0.0.4";
}  // namespace

pipeline::Next ProbeRoutesStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  // A connection whose TLS server name names a cluster talks to that cluster: its /readyz is the cluster's.
  if (ctx.method != "GET" || !ctx.sni_cluster.empty()) return pipeline::Next::Continue;
  if (ctx.target == "/healthz") {
    chain.send_reply(200, "text/plain", "ok");
  } else if (ctx.target == "/readyz") {
    if (ctx_.clusters.database_ok()) chain.send_reply(200, "text/plain", "ok");
    else chain.send_reply(503, "text/plain", "database unreachable");
  } else if (ctx.target == "/metrics" && !ctx_.config.metrics.listen.empty()) {
    chain.send_local_reply(404, "/metrics is served on the gateway's metrics listener (metrics.listen), not here",
                           "NotFound");
  } else if (ctx.target == "/metrics" && !ctx_.config.metrics.authenticate) {
    chain.send_reply(200, kMetricsType, ctx_.metrics.render(ctx_.tunnels.tunnel_stats()));
  } else {
    return pipeline::Next::Continue;
  }
  return pipeline::Next::Stop;
}

pipeline::Next ApiRoutesStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (!ctx.sni_cluster.empty()) return pipeline::Next::Continue;  // the cluster's paths, not the gateway's
  const Identity& who = *ctx.identity;
  if (ctx.method == "GET" && ctx.target == "/metrics") {  // metrics.authenticate
    const auto& allowed = ctx_.config.metrics.groups;
    if (in_any_group(who, allowed)) {
      chain.send_reply(200, kMetricsType, ctx_.metrics.render(ctx_.tunnels.tunnel_stats()));
    } else {
      spdlog::info("403 /metrics for {}: in none of the metrics groups", who.user);
      chain.send_local_reply(403, "/metrics is for members of " + boost::join(allowed, ", ") + " (metrics.groups); " +
                                      who.user + " is in none of them", "Forbidden");
    }
    return pipeline::Next::Stop;
  }
  if (is_approvals_api_path(ctx.target)) {
    if (!ctx_.approvals) {
      chain.send_local_reply(404, "this gateway has no approvals (it runs without a policy)", "NotFound");
      return pipeline::Next::Stop;
    }
    serve_approvals_api(*ctx_.approvals, ctx.method, ctx.target, ctx.body, who, ctx_.config.approvals.viewer_groups,
                        chain.on_strand([&chain](int code, nlohmann::json body) {
                          chain.send_reply(code, "application/json", body.dump());
                        }));
    return pipeline::Next::Stop;
  }
  if (is_sessions_api_path(ctx.target)) {
    if (!ctx_.sessions_api) {
      chain.send_local_reply(404, "this gateway records nothing (recording.enabled: false)", "NotFound");
      return pipeline::Next::Stop;
    }
    ctx_.sessions_api->serve(ctx.method, ctx.target, who,
                             chain.on_strand([&chain](int code, std::string type, std::string body) {
                               chain.send_reply(code, type, std::move(body));
                             }));
    return pipeline::Next::Stop;
  }
  if (is_audit_api_path(ctx.target) && ctx_.audit_api) {
    if (AuditApi::is_export(ctx.target)) {
      export_ = ctx_.audit_api->export_to(ctx.target, who, {}, chain);
    } else {
      ctx_.audit_api->serve(ctx.method, ctx.target, who, chain.on_strand([&chain](int code, std::string type, std::string body) {
        chain.send_reply(code, type, std::move(body));
      }));
    }
    return pipeline::Next::Stop;
  }
  return pipeline::Next::Continue;
}

}  // namespace sluice::gateway
