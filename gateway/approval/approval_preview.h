// What reviewers see of a held request's effect, gathered through the cluster's tunnel as the
// requester (so RBAC applies to the look-ups too): for create, update, patch and apply the API
// server's own answer to the same request with dryRun=All and a unified diff against the live
// object; for a delete the live object; for a collection delete (and a namespace's) the count
// and names of what would go. Secret values never enter a preview.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "common/request_info.h"
#include "gateway/masking/masking_profile.h"
#include "gateway/auth/identity.h"
#include "gateway/tunnel/audited_fetch.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway::approval {

struct PreviewQuestion {
  std::string cluster;
  Identity who;
  common::RequestInfo info;
  std::string method, target, content_type, body;
  std::shared_ptr<const masking::MaskingProfile> masking;  // its fields are masked in what reviewers see
  FetchAudit audit;  // the preview's requests are audited, linked to the held request's row
};

// `done` runs on `executor` with the preview (an object with "kind"), never an exception: what
// could not be read is said in the preview's "errors".
void build_preview(boost::asio::any_io_executor executor, tunnel::TunnelRegistry& tunnels, PreviewQuestion question,
                   std::function<void(nlohmann::json)> done);

// Secret values replaced by a mask (keys stay), in an object, a list or a Status's details; the
// copy kubectl keeps in the last-applied-configuration annotation too. Pure.
void mask_secret_values(nlohmann::json& object);

}  // namespace sluice::gateway::approval
