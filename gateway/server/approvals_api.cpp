#include "gateway/server/approvals_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/k8s_status.h"
#include "common/request_info.h"

namespace sluice::gateway {
namespace {

constexpr std::string_view kPrefix = "/api/v1/approvals";

}  // namespace

bool is_approvals_api_path(const std::string& target) {
  if (target.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  return target.size() == kPrefix.size() || target[kPrefix.size()] == '/' || target[kPrefix.size()] == '?';
}

void serve_approvals_api(approval::ApprovalService& service, const std::string& method, const std::string& target,
                         const std::string& body, const Identity& who, const std::vector<std::string>& viewer_groups,
                         std::function<void(int, nlohmann::json)> reply) {
  const auto q = target.find('?');
  const std::string path = target.substr(0, q);
  const auto query = common::decode_query(q == std::string::npos ? "" : target.substr(q + 1)).params;
  std::string rest = path.substr(kPrefix.size());
  if (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
  auto status = [&](int code, const std::string& message, const std::string& reason) {
    reply(code, common::make_status(code, message, reason));
  };

  if (id.empty()) {
    if (method != "GET") return status(405, "use GET to list approvals", "MethodNotAllowed");
    approval::ApprovalStore::ListFilter filter;
    filter.state = common::query_value(query, "state").value_or("");
    filter.cluster = common::query_value(query, "cluster").value_or("");
    filter.requester = common::query_value(query, "requester").value_or("");
    try {
      filter.limit = std::stoi(common::query_value(query, "limit").value_or("50"));
    } catch (const std::exception&) {
      return status(400, "limit must be a number", "BadRequest");
    }
    // Members of a viewer group read everything; anyone else only what may_read lets them.
    if (!in_any_group(who, viewer_groups)) filter.reader = who;
    return service.run([filter, reply](approval::ApprovalStore& store) {
      try {
        nlohmann::json items = nlohmann::json::array();
        for (const auto& a : store.list(filter)) items.push_back(approval::to_json(a));
        reply(200, {{"items", items}});
      } catch (const std::exception& e) {
        spdlog::error("approvals API: {}", e.what());
        reply(503, common::make_status(503, "the approval store is unavailable", "ServiceUnavailable"));
      }
    });
  }
  if (action.empty()) {
    if (method != "GET") return status(405, "use GET to read an approval", "MethodNotAllowed");
    return service.run([id, who, viewer_groups, reply](approval::ApprovalStore& store) {
      try {
        auto a = store.get(id);
        // Not readable answers as not found: an id alone tells nothing about whether it exists.
        if (!a || !approval::may_read(*a, who, viewer_groups))
          return reply(404, common::make_status(404, "approval \"" + id + "\" not found (or you are neither its "
                                                     "requester, an approver of its rule, nor a viewer)", "NotFound"));
        reply(200, approval::to_json(*a));
      } catch (const std::exception& e) {
        spdlog::error("approvals API: {}", e.what());
        reply(503, common::make_status(503, "the approval store is unavailable", "ServiceUnavailable"));
      }
    });
  }
  if (action != "approve" && action != "reject") return status(404, "no such approvals endpoint: " + path, "NotFound");
  if (method != "POST") return status(405, "use POST to " + action, "MethodNotAllowed");
  std::string reason;
  if (!body.empty()) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || (j.contains("reason") && !j["reason"].is_string()))
      return status(400, "the body must be a JSON object like {\"reason\": \"...\"}", "BadRequest");
    reason = j.value("reason", "");
  }
  if (action == "reject" && reason.empty())
    return status(400, "a rejection needs a reason: {\"reason\": \"...\"}", "BadRequest");
  if (reason.size() > 4096) return status(400, "the reason is longer than 4096 characters", "BadRequest");
  const bool approve = action == "approve";
  service.run([id, who, approve, reason, reply](approval::ApprovalStore& store) {
    try {
      const auto a = store.vote(id, who, approve, reason);
      spdlog::info("approval {}: {} by {} ({}); now {}", id, approve ? "approved" : "rejected", who.user,
                   who.method, a.state);
      reply(200, approval::to_json(a));
    } catch (const approval::ApprovalError& e) {
      const char* reason_word = e.code == 403 ? "Forbidden" : e.code == 404 ? "NotFound" : "Conflict";
      spdlog::info("approval {}: vote by {} refused: {}", id, who.user, e.what());
      reply(e.code, common::make_status(e.code, e.what(), reason_word));
    } catch (const std::exception& e) {
      spdlog::error("approvals API: {}", e.what());
      reply(503, common::make_status(503, "the approval store is unavailable", "ServiceUnavailable"));
    }
  });
}

}  // namespace sluice::gateway
