// The policy stage of a request: matches the rules, gathers what their conditions read (the
// request body, the live object and the target namespace, fetched through the tunnel as the
// requester, so RBAC applies to the lookup too) and decides. Whatever cannot be read resolves
// toward the stricter decision (gateway/policy/policy_engine.h).
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/cancel.h"
#include "common/request_info.h"
#include "gateway/auth/identity.h"
#include "gateway/pipeline/request_rewrite.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/tunnel/audited_fetch.h"
#include "gateway/tunnel/tunnel_fetch.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway {

struct PolicyVerdict {
  std::shared_ptr<const policy::PolicyEngine> engine;  // keeps decision.rule alive
  policy::Decision decision;
};

struct PolicyQuestion {
  std::string cluster;
  Identity who;
  common::RequestInfo info;
  std::string method, target;  // as the cluster sees them (for a dry run of the request)
  std::string content_type;
  std::string_view body;  // read during check_policy's own call only: it need not outlive it
  FetchAudit audit;       // the lookups' own audit rows, linked to this request's
};

// `done` runs on `executor`, possibly before this returns (no lookup needed), and not at all once
// `cancel` was cancelled: the lookups in flight stop then (the client went away).
void check_policy(boost::asio::any_io_executor executor, tunnel::TunnelRegistry& tunnels,
                  std::shared_ptr<const policy::PolicyEngine> engine, PolicyQuestion question,
                  std::function<void(PolicyVerdict)> done, common::Cancel cancel = nullptr);

}  // namespace sluice::gateway
