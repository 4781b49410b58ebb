// What a notification about a new approval says, built once when the approval is stored (and kept
// in the outbox row): the approval as the API shows it, plus links for the reviewer. The sinks
// format it (JSON as is, Slack Block Kit, an email), from the summary lines here.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "gateway/approval/approval_store.h"

namespace sluice::gateway::notify {

inline constexpr const char* kApprovalRequested = "approval.requested";

nlohmann::json approval_event(const approval::ApprovalRequest& a, const std::string& review_url);

// The request as the gateway classified it, from an approval's JSON (approval::to_json):
// "delete pods/exec web-0 in namespace shop".
std::string classified_request(const nlohmann::json& approval);

// The facts a reviewer reads first, as label/value pairs: requester, classified request, cluster,
// HTTP request, rule, the client's own words (unverified), approval.
std::vector<std::pair<std::string, std::string>> summary_fields(const nlohmann::json& event);
std::string headline(const nlohmann::json& event);  // "automation-bot wants to create clusterrolebindings/x on demo"

}  // namespace sluice::gateway::notify
