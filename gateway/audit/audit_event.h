// One audit row: the intent (who asked what of which cluster, and the decision), written before
// the request is forwarded, and its outcome, written when the exchange ends.
#pragma once
#include <chrono>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "common/request_info.h"
#include "gateway/auth/identity.h"

namespace sluice::gateway::audit {

using Clock = std::chrono::system_clock;

struct AuditOutcome {
  std::string id;
  Clock::time_point received_at;  // with id: the row's primary key
  int response_code = 0;
  double duration_ms = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  Clock::time_point finished_at;
};

struct AuditIntent {
  std::string id;  // UUID; also sent upstream as Audit-ID so the cluster's audit log joins on it
  Clock::time_point received_at;
  std::string cluster;
  Identity who;
  std::string source_ip;
  std::string user_agent;
  std::string kubectl_command;
  std::string kubectl_session;
  common::RequestInfo request;
  std::string request_uri;  // path and query as the cluster receives them
  std::string decision = "allowed";
  std::string decision_reason;
  std::string approval_id;  // the approval that let the request through or refused it ("" = none)
  std::string parent_id;    // a gateway-originated request: the client request it was sent for
  std::optional<AuditOutcome> outcome;  // set for a refusal: known at once, written with the intent
};


// A random (version 4) UUID.
std::string new_audit_id();

// "2026-11-25 03:40:00.123456+00": what PostgreSQL reads as timestamptz.
std::string to_pg_timestamp(Clock::time_point t);

// "90s", "10m", "2h", "7d" ago, or an RFC 3339 / PostgreSQL timestamp as given; "" when malformed.
std::string since_to_timestamp(const std::string& since);

}  // namespace sluice::gateway::audit
