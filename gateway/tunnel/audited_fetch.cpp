#include "gateway/tunnel/audited_fetch.h"

#include <boost/asio/post.hpp>

#include <memory>

#include "common/request_info.h"
#include "gateway/pipeline/request_rewrite.h"
#include "sluice/version.h"

namespace sluice::gateway {

void audited_fetch(boost::asio::any_io_executor executor, tunnel::TunnelRegistry& tunnels, const FetchAudit& audit,
                   const Identity& who, const std::string& purpose, tunnel::FetchRequest request,
                   std::function<void(tunnel::FetchResult)> done, common::Cancel cancel) {
  if (!audit.writer)
    return tunnel::fetch_through_tunnel(executor, tunnels, std::move(request), std::move(done), std::move(cancel));
  audit::AuditIntent intent;
  intent.id = audit::new_audit_id();
  intent.received_at = audit::Clock::now();
  intent.cluster = request.cluster;
  intent.who = who;
  intent.source_ip = audit.source_ip;
  intent.user_agent = std::string("sluice-gateway/") + kVersion;
  intent.request = common::classify_request(request.method, request.target).info;
  intent.request_uri = request.target;
  intent.decision = "gateway";
  intent.decision_reason = purpose + " for request " + audit.parent_id;
  intent.parent_id = audit.parent_id;
  request.headers.emplace_back("Audit-ID", intent.id);
  auto* writer = audit.writer;
  const auto id = intent.id;
  const auto received_at = intent.received_at;
  auto req = std::make_shared<tunnel::FetchRequest>(std::move(request));
  auto finish = std::make_shared<std::function<void(tunnel::FetchResult)>>(std::move(done));
  writer->record_intent(std::move(intent), [executor, &tunnels, writer, id, received_at, req, finish,
                                             cancel = std::move(cancel)](bool committed) {
    boost::asio::post(executor, [executor, &tunnels, writer, id, received_at, req, finish, committed, cancel] {
      if (!committed) {
        tunnel::FetchResult r;
        r.error = "its audit row could not be committed; not sent";
        return (*finish)(std::move(r));
      }
      const auto bytes_out = req->body.size();
      auto answered = [writer, id, received_at, bytes_out, finish](tunnel::FetchResult r) {
        audit::AuditOutcome o;
        o.id = id;
        o.received_at = received_at;
        o.response_code = r.status;
        o.finished_at = audit::Clock::now();
        o.duration_ms = std::chrono::duration<double, std::milli>(o.finished_at - received_at).count();
        o.bytes_in = bytes_out;
        o.bytes_out = r.body.size();
        writer->record_outcome(std::move(o));
        (*finish)(std::move(r));
      };
      if (cancel && cancel->cancelled()) {  // its requester went away while the row was committed
        tunnel::FetchResult r;
        r.error = "cancelled";
        return answered(std::move(r));
      }
      tunnel::fetch_through_tunnel(executor, tunnels, std::move(*req), std::move(answered), cancel);
    });
  });
}

tunnel::FetchRequest fetch_as(const std::string& cluster, const Identity& who, std::string method, std::string target,
                              HeaderList headers, std::string body) {
  tunnel::FetchRequest req;
  req.cluster = cluster;
  req.method = std::move(method);
  req.target = std::move(target);
  headers.emplace_back("Accept", "application/json");
  req.headers = rewrite_request_headers(headers, who, false);
  req.body = std::move(body);
  return req;
}

std::string live_object_path(const common::RequestInfo& info) {
  if (!info.is_resource_request || info.name.empty()) return "";
  std::string p = info.api_group.empty() ? "/api/" + info.api_version : "/apis/" + info.api_group + "/" + info.api_version;
  if (info.resource == "namespaces") return p + "/namespaces/" + info.name;
  if (!info.namespace_name.empty()) p += "/namespaces/" + info.namespace_name;
  return p + "/" + info.resource + "/" + info.name;
}

}  // namespace sluice::gateway
