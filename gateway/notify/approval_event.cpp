#include "gateway/notify/approval_event.h"

namespace sluice::gateway::notify {

using nlohmann::json;

json approval_event(const approval::ApprovalRequest& a, const std::string& review_url) {
  std::string base = review_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string self = base + "/api/v1/approvals/" + a.id;
  const std::string review = base + "/ui/approvals/" + a.id;  // the reviewer UI's page for it
  json approval = approval::to_json(a);
  approval.erase("preview");  // may be large; reviewers open it with `approvals show`
  return {{"type", kApprovalRequested},
          {"approval", approval},
          {"links",
           {{"review", review},
            {"self", self},
            {"approve", self + "/approve"},
            {"reject", self + "/reject"},
            {"cli", "sluice-gateway approvals show " + a.id}}}};
}

std::string classified_request(const json& a) {
  std::string out = a.value("verb", "") + " " + a.value("resource", "");
  if (!a.value("subresource", "").empty()) out += "/" + a.value("subresource", "");
  if (!a.value("name", "").empty()) out += " " + a.value("name", "");
  if (!a.value("namespace", "").empty()) out += " in namespace " + a.value("namespace", "");
  return out;
}

std::vector<std::pair<std::string, std::string>> summary_fields(const json& event) {
  const auto& a = event["approval"];
  // What the gateway classified comes first; Kubectl-Command is whatever the client chose to send.
  std::string command = a.value("kubectlCommand", "");
  if (command.empty()) command = "-";
  return {{"Requester", a["requester"].value("username", "")},
          {"Request", classified_request(a)},
          {"Cluster", a.value("cluster", "")},
          {"HTTP", a.value("method", "") + " " + a.value("requestURI", "")},
          {"Rule", a.value("rule", "") + (a.value("message", "").empty() ? "" : ": " + a.value("message", ""))},
          {"Client's words (unverified)", command},
          {"Approval", a.value("id", "") + " (expires " + a.value("expiresAt", "") + ")"}};
}

std::string headline(const json& event) {
  const auto& a = event["approval"];
  std::string object = a.value("resource", "");
  if (!a.value("name", "").empty()) object += "/" + a.value("name", "");
  return a["requester"].value("username", "") + " wants to " + a.value("verb", "") + " " + object + " on " +
         a.value("cluster", "") + " (approval needed)";
}

}  // namespace sluice::gateway::notify
