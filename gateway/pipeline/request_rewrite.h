// What goes upstream: the /clusters/<name> route and the request head as the cluster must see it
// (the client's credentials and impersonation removed, the caller's identity impersonated).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/header_list.h"
#include "gateway/auth/identity.h"

namespace sluice::gateway {

struct Route {
  std::string cluster;
  std::string target;  // path and query with the /clusters/<name> prefix removed ("/" at least)
};

// nullopt when `target` is not under /clusters/<name>.
std::optional<Route> route_request(const std::string& target);

// The cluster a TLS server name <cluster>.<suffix> names (case-insensitive), "" when it names
// none: a kubeconfig from `sluice-gateway kubeconfig` sets tls-server-name so, and its requests
// then reach that cluster without the /clusters/<name> prefix (client-go drops the prefix from
// --raw paths).
std::string cluster_named_by(const std::string& server_name, const std::string& suffix);

using sluice::HeaderList;

// Drops Authorization, every Impersonate-*, the hop-by-hop headers and every header the client's
// Connection names (an upgrade gets a plain "Connection: Upgrade" and its Upgrade header, never the
// client's Connection list, so no later hop drops the identity headers), then adds Impersonate-User/-Uid/-Group for `who` (system:authenticated
// included, as the API server adds it for real users) and Impersonate-Extra-<key> per extra value.
HeaderList rewrite_request_headers(const HeaderList& client_headers, const Identity& who, bool upgrade);

// `target` as the gateway's own dry run of it: every dryRun pair the client sent is removed and
// one dryRun=All added, so the cluster can never read another value than All.
std::string dry_run_target(const std::string& target);

// An Impersonate-Extra-<key> header name's key, percent-encoded as Kubernetes requires.
std::string escape_extra_key(const std::string& key);

// True for a header the client may not pass through (case-insensitive).
bool is_client_impersonation_header(const std::string& name);

}  // namespace sluice::gateway
