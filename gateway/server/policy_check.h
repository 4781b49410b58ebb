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

#include "common/request_info.h"
#include "gateway/auth/identity.h"
#include "gateway/policy/policy_engine.h"
#include "gateway/server/audited_fetch.h"
#include "gateway/server/request_rewrite.h"
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

// `done` runs on `executor`, possibly before this returns (no lookup needed).
void check_policy(boost::asio::any_io_executor executor, tunnel::TunnelRegistry& tunnels,
                  std::shared_ptr<const policy::PolicyEngine> engine, PolicyQuestion question,
                  std::function<void(PolicyVerdict)> done);

// A request of the gateway's own (the live object, a dry run) as `who` sends it, so RBAC applies
// to the look-up too, answered in JSON. `headers` adds to it (a Content-Type).
tunnel::FetchRequest fetch_as(const std::string& cluster, const Identity& who, std::string method, std::string target,
                              HeaderList headers = {}, std::string body = {});

// Where the object a request is about can be read: "/api/v1/namespaces/shop/pods/web-0" for an
// exec into web-0; "" when the request names no object.
std::string live_object_path(const common::RequestInfo& info);

}  // namespace sluice::gateway
