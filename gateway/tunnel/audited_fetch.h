// A request the gateway itself sends to a cluster (a policy dry run, a live-object read, an
// approval preview) is audited like a client's: its own row, committed before it is sent, linked
// to the client request it serves (parent_id), and an Audit-ID header so the cluster's audit log
// joins on it. A row that cannot be committed means the fetch is not sent (it fails, and whoever
// asked resolves toward the stricter answer).
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <string>

#include "common/header_list.h"
#include "common/request_info.h"
#include "gateway/audit/audit_writer.h"
#include "gateway/auth/identity.h"
#include "gateway/tunnel/tunnel_fetch.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway {

struct FetchAudit {
  audit::AuditWriter* writer = nullptr;  // null: the gateway runs without an audit trail
  std::string parent_id;                 // the client request's audit id
  std::string source_ip;                 // the client's, for the row
};

// Sends `request` (built by fetch_as for `who`) after its audit row, `purpose` naming why
// ("policy dry run"). `done` runs on `executor`. Cancelled while its row is being committed, it is
// not sent (the row gets its outcome: no answer); cancelled later, the fetch stops (tunnel_fetch.h).
void audited_fetch(boost::asio::any_io_executor executor, tunnel::TunnelRegistry& tunnels, const FetchAudit& audit,
                   const Identity& who, const std::string& purpose, tunnel::FetchRequest request,
                   std::function<void(tunnel::FetchResult)> done, common::Cancel cancel = nullptr);

// A request of the gateway's own (the live object, a dry run) as `who` sends it, so RBAC applies
// to the look-up too, answered in JSON. `headers` adds to it (a Content-Type).
tunnel::FetchRequest fetch_as(const std::string& cluster, const Identity& who, std::string method, std::string target,
                              HeaderList headers = {}, std::string body = {});

// Where the object a request is about can be read: "/api/v1/namespaces/shop/pods/web-0" for an
// exec into web-0; "" when the request names no object.
std::string live_object_path(const common::RequestInfo& info);

}  // namespace sluice::gateway
