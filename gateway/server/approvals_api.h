// The reviewers' REST API, on the gateway's HTTPS listener and authenticated like the proxy:
//   GET  /api/v1/approvals[?state=pending&limit=50]   list, newest first
//   GET  /api/v1/approvals/ID                          one approval with its votes
//   POST /api/v1/approvals/ID/approve  {"reason": ""}  a vote (the approval rules apply)
//   POST /api/v1/approvals/ID/reject   {"reason": "…"} a rejection ends it; the reason is required
// Answers are JSON; refusals are Kubernetes Status objects with the right code.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "gateway/approval/approval_service.h"
#include "gateway/auth/identity.h"

namespace sluice::gateway {

bool is_approvals_api_path(const std::string& target);

// `reply` runs on the approval service's worker thread (or at once for a malformed request).
// Reads are authorised by approval::may_read: `viewer_groups` are approvals.viewer_groups.
void serve_approvals_api(approval::ApprovalService& service, const std::string& method, const std::string& target,
                         const std::string& body, const Identity& who, const std::vector<std::string>& viewer_groups,
                         std::function<void(int code, nlohmann::json body)> reply);

}  // namespace sluice::gateway
