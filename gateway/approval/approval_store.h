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
  std::string source_ip, user_agent;  // where the request came from
  std::string verb, api_group, resource, subresource, namespace_name, name;
  std::string method, request_uri, request_body, body_sha256;
  std::string content_type, content_encoding;  // part of the identity (find_identical), as sent
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
  // What reviewers see of the request's effect (approval_preview.h): the API server's dry run and
  // a diff against the live object, the object a delete removes, what a collection delete takes.
  nlohmann::json preview;  // null: none
};

// A notification to deliver once the approval is stored (notify/outbox.h): written in the same
// transaction, so it is never lost and never sent for an approval that was not stored.
struct OutboxMessage {
  std::string sink, event;
  nlohmann::json payload;
};

// An earlier approval of the very same request by the same identity (cluster, method, path and
// query, body hash): one already approved and now claimed for this retry, one still pending, or
// one rejected within its time to live.
// How long a rejected or expired approval answers an identical request at once, in hold mode too.
inline constexpr int kRecentDecisionSeconds = 30;

struct IdenticalApproval {
  // rejected: a rejection still valid (async), or one from moments ago; expired: from moments ago
  // (kubectl retries a refused WebSocket exec as an SPDY POST at once: it gets the same answer).
  enum class Kind { claimed, pending, rejected, expired } kind;
  std::string id, decided_by, decision_reason;
  bool recent = false;  // decided within kRecentDecision
};

nlohmann::json to_json(const ApprovalRequest& a);

// A refused vote or lookup: `code` is the HTTP status the API answers with.
// Who may read an approval (its body, command line and preview): the requester (by user name),
// the rule's approvers, and members of `viewer_groups` (gateway config approvals.viewerGroups).
bool may_read(const ApprovalRequest& a, const Identity& reader, const std::vector<std::string>& viewer_groups);

struct ApprovalError : std::runtime_error {
  ApprovalError(int code, const std::string& what) : std::runtime_error(what), code(code) {}
  int code;
};

class ApprovalStore {
 public:
  explicit ApprovalStore(std::string database_url);

  void create(const ApprovalRequest& a, const std::vector<OutboxMessage>& notifications = {});
  // An approved twin is claimed for execution in the same statement (so it executes once); a
  // pending twin is only named. nullopt: neither exists.
  std::optional<IdenticalApproval> find_identical(const ApprovalRequest& probe);
  std::optional<ApprovalRequest> get(const std::string& id);
  struct ListFilter {
    std::string state, cluster, requester;  // "" = any
    int limit = 50;
    // Set: only the approvals this reader may see (may_read): its own, and those of rules it approves.
    std::optional<Identity> reader;
  };
  std::vector<ApprovalRequest> list(const ListFilter& filter);
  ApprovalRequest vote(const std::string& id, const Identity& approver, bool approve, const std::string& reason);
  bool claim_execution(const std::string& id);  // approved -> executed; true only for the one caller
  void cancel(const std::string& id);           // pending -> cancelled (the client gave up)
  int pending_count(const std::string& requester);  // pending, not yet expired, by this user name
  // pending past expires_at, and approved but not executed within its time to live after the
  // decision -> expired
  std::vector<std::string> expire_due();

 private:
  pqxx::connection& conn();
  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace sluice::gateway::approval
