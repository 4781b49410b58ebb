// What the chain knows about one request: what the front read (HTTP/1.1 or HTTP/2: both fronts
// fill the same fields), and what each stage computed once for the stages after it.
#pragma once
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/header_list.h"
#include "common/request_info.h"
#include "gateway/audit/audit_event.h"
#include "gateway/auth/identity.h"
#include "gateway/masking/response_masking.h"
#include "gateway/policy/policy.h"

namespace sluice::gateway::pipeline {

struct RequestContext {
  // Read by the front.
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // path and query as sent, /clusters/<name> prefix included
  HeaderList headers;  // in the order received
  std::string body;    // complete (the front enforces the size limit)
  std::string remote;  // the peer's address
  std::string source_ip;  // the client's address for the audit (X-Forwarded-For from a trusted proxy)
  SSL* tls = nullptr;     // the client's TLS session (client certificates)
  std::string server_name;  // the TLS server name (SNI) the client sent, "" for none
  std::string sni_cluster;  // the cluster server_name names (tls.cluster_name_suffix), "" for none
  bool upgrade = false;   // the client asks for an Upgrade (exec, attach, port-forward)
  std::string connection_id;  // the front's connection, for recordings without Kubectl-Session

  // First value of a header, case-insensitive; "" when absent.
  std::string header(std::string_view name) const;

  // When the chain started it.
  std::string audit_id;  // also sent upstream as Audit-ID
  audit::Clock::time_point received_at;
  std::chrono::steady_clock::time_point started;

  std::optional<Identity> identity;       // authenticate
  std::string cluster, cluster_target;    // route: the cluster and the path the cluster sees
  common::RequestInfo info;               // classify
  bool classified = false;
  // policy: the `approve` rule this request needs reviewers for (the approval stage asks them)
  struct ApprovalNeeded {
    std::string rule, message;
    policy::ApprovalSpec spec;
    bool reveal = false;
  };
  std::optional<ApprovalNeeded> approval_needed;
  std::string decision_reason;            // policy / approval: why it was allowed
  std::string approval_id;                // approval: the approval that decided
  std::shared_ptr<const masking::MaskingProfile> masking_profile;  // policy: the rule's choice; null: built-in
  bool reveal = false;                    // approval: an approved `reveal` rule
  masking::MaskingPlan masking_plan;      // masking: what response masking must do
  bool intent_written = false;            // audit commit: the intent row went out, an outcome row follows
  std::string refusal;                    // why a stage refused the request (audited as denied)

  // The answer.
  int status = 0;  // the response code the client got (0: none yet)
  bool response_started = false;  // a response head reached the client
  std::uint64_t bytes_in = 0, bytes_out = 0;

  // The verb for metrics: the classified one once known, else from the method; "other" outside the known set.
  std::string metrics_verb() const;
};

}  // namespace sluice::gateway::pipeline
