// What the stages and the front share: built once in serve_command, read by every request.
#pragma once
#include "gateway/approval/approval_service.h"
#include "gateway/audit/audit_writer.h"
#include "gateway/auth/authenticator.h"
#include "gateway/config/gateway_config.h"
#include "gateway/pipeline/metrics.h"
#include "gateway/policy/policy_store.h"
#include "gateway/recording/recording_writer.h"
#include "gateway/server/approval_gate.h"
#include "gateway/server/audit_api.h"
#include "gateway/server/cluster_directory.h"
#include "gateway/server/sessions_api.h"
#include "gateway/server/source_address.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway {

struct ProxyContext {
  const GatewayConfig& config;
  const AuthenticatorChain& auth;
  tunnel::TunnelRegistry& tunnels;
  ClusterDirectory& clusters;
  Metrics& metrics;
  audit::AuditWriter* audit;  // nullptr: intent audit switched off (the benchmark's comparison run)
  const TrustedProxies& trusted_proxies;
  policy::PolicyStore* policy;  // nullptr: no policy configured, every authenticated request flows
  approval::ApprovalService* approvals;  // nullptr: no approvals API
  ApprovalGate* approval_gate;           // nullptr: `approve` decisions fail closed
  recording::RecordingWriter* recordings;  // nullptr: recording switched off
  SessionsApi* sessions_api;               // nullptr: recording switched off
  AuditApi* audit_api = nullptr;           // the audit trail's search, export and verify
};

}  // namespace sluice::gateway
