// The approval stage of a request that policy marked `approve`: nothing reaches the cluster until
// reviewers approved exactly this request. An identical earlier request (same identity, cluster,
// method, path and query, body hash) that was approved passes once; one still pending is waited
// on (hold) or named again (async) rather than asked twice. Otherwise the approval is stored with
// its dry-run preview and its notifications in one transaction, and then, in hold mode, the
// request waits for the decision (LISTEN/NOTIFY); in async mode the client hears at once where to
// get it reviewed. Whatever cannot be decided is refused (fail closed).
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/request_info.h"
#include "gateway/approval/approval_service.h"
#include "gateway/auth/identity.h"
#include "gateway/masking/masking_profile.h"
#include "gateway/policy/policy.h"
#include "gateway/tunnel/audited_fetch.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway {

struct ApprovalAsk {
  std::string cluster;
  Identity who;
  common::RequestInfo info;
  std::string method, target, content_type, content_encoding, body;
  std::string kubectl_command, kubectl_session;
  std::string rule, message;
  policy::ApprovalSpec spec;
  std::shared_ptr<const masking::MaskingProfile> masking;  // what reviewers must not see either
  FetchAudit audit;  // the preview's requests are audited, linked to this request's row
  std::string source_ip, user_agent;  // where the request came from, for reviewers
};

struct ApprovalVerdict {
  bool forward = false;
  std::string message;       // refused: what the client reads in its 403 Status
  std::string audit_reason;  // forwarded: "approved by alice (approval <id>)"
  std::string approval_id;   // the approval that decided ("" when none was reached)
  int code = 403;            // refused: the HTTP status (429 past the pending cap)
};

class ApprovalGate {
 public:
  ApprovalGate(approval::ApprovalService& service, tunnel::TunnelRegistry& tunnels, std::string review_url,
               std::vector<std::string> notification_sinks);

  // A request waiting for reviewers; client_gone takes it.
  struct Hold {
    std::string id;
    std::uint64_t ticket = 0;
  };
  // `held` runs when the request starts waiting for reviewers; `done` runs once at the end, unless
  // client_gone came first. Both run on `executor` (the session's strand).
  void decide(boost::asio::any_io_executor executor, ApprovalAsk ask, std::function<void(Hold)> held,
              std::function<void(ApprovalVerdict)> done);
  // The client of a held request went away: it stops waiting, and the approval is cancelled
  // unless another request (an identical retry) still waits for it.
  void client_gone(const Hold& hold);

  std::string review_link(const std::string& id) const;
  // More pending approvals than this for one user name: a new one is refused with 429.
  void set_max_pending(int n) { max_pending_ = n; }
  // The gateway's own address is known only once it listens (port 0 picks one): set it before
  // serving when the configured review URL was the default.
  void set_review_url(std::string url);

 private:
  struct Flow;
  void on_identical(const std::shared_ptr<Flow>& f);
  void create(const std::shared_ptr<Flow>& f, nlohmann::json preview);
  void wait(const std::shared_ptr<Flow>& f, const std::string& id);
  void on_decided(const std::shared_ptr<Flow>& f, const std::string& id,
                  const std::optional<approval::ApprovalRequest>& r);

  approval::ApprovalService& service_;
  tunnel::TunnelRegistry& tunnels_;
  std::string review_url_;
  const std::vector<std::string> sinks_;
  int max_pending_ = 20;
};

}  // namespace sluice::gateway
