// What goes upstream: the /clusters/<name> route and the request head as the cluster must see it
// (the client's credentials and impersonation removed, the caller's identity impersonated).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/auth/identity.h"

namespace sluice::gateway {

struct Route {
  std::string cluster;
  std::string target;  // path and query with the /clusters/<name> prefix removed ("/" at least)
};

// nullopt when `target` is not under /clusters/<name>.
std::optional<Route> route_request(const std::string& target);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Drops Authorization, every Impersonate-* and the hop-by-hop headers (keeping Connection/Upgrade
// of an upgrade request), then adds Impersonate-User/-Uid/-Group for `who` (system:authenticated
// included, as the API server adds it for real users) and Impersonate-Extra-<key> per extra value.
HeaderList rewrite_request_headers(const HeaderList& client_headers, const Identity& who, bool upgrade);

// An Impersonate-Extra-<key> header name's key, percent-encoded as Kubernetes requires.
std::string escape_extra_key(const std::string& key);

// True for a header the client may not pass through (case-insensitive).
bool is_client_impersonation_header(const std::string& name);

}  // namespace sluice::gateway
