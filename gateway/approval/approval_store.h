// Approval requests in PostgreSQL (migration 0004) and the rules a vote must pass: the requester
// never approves their own request, only the rule's approvers count, min_approvals distinct
// people, one rejection ends it, an expired request takes no votes, and an approved request is
// claimed for execution exactly once. Synchronous: call it from a thread that may block
// (ApprovalService's worker), never from an Asio thread.
#pragma once
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gateway/auth/identity.h"

namespace sluice::gateway::approval {

// Every state change is announced on this channel (payload: the approval's id), so a request held
// by any gateway replica learns of a decision made through any other.
inline constexpr const char* kNotifyChannel = "sluice_approvals";

struct ApprovalRequest {
  std::string id;
  std::string state = "pending";
  std::string cluster;
  Identity requester;
  std::string kubectl_command, kubectl_session;
  std::string verb, api_group, resource, subresource, namespace_name, name;
  std::string method, request_uri, request_body, body_sha256;
  std::string rule, message;
  std::vector<std::string> approver_groups, approver_users;
  int min_approvals = 1;
  std::string mode = "hold";
  std::chrono::seconds timeout{600};  // on create: expires_at = now + timeout
  // Filled in when read back (RFC 3339, UTC; "" when not set).
  std::string created_at, expires_at, decided_at, decided_by, decision_reason, executed_at;
  struct Vote {
    std::string approver, vote, reason, voted_at;
  };
  std::vector<Vote> votes;
};

nlohmann::json to_json(const ApprovalRequest& a);

// A refused vote or lookup: `code` is the HTTP status the API answers with.
struct ApprovalError : std::runtime_error {
  ApprovalError(int code, const std::string& what) : std::runtime_error(what), code(code) {}
  int code;
};

class ApprovalStore {
 public:
  explicit ApprovalStore(std::string database_url);

  void create(const ApprovalRequest& a);
  std::optional<ApprovalRequest> get(const std::string& id);
  std::vector<ApprovalRequest> list(const std::string& state, int limit);  // state "" = any
  ApprovalRequest vote(const std::string& id, const Identity& approver, bool approve, const std::string& reason);
  bool claim_execution(const std::string& id);  // approved -> executed; true only for the one caller
  void cancel(const std::string& id);           // pending -> cancelled (the client gave up)
  std::vector<std::string> expire_due();        // pending past expires_at -> expired

 private:
  pqxx::connection& conn();
  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace sluice::gateway::approval
