#include "gateway/approval/approval_store.h"

#include <algorithm>

namespace sluice::gateway::approval {
namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id::text, state, cluster, requester, requester_uid, array_to_json(requester_groups)::text, auth_method, "
    "kubectl_command, kubectl_session, verb, api_group, resource, subresource, namespace, name, method, "
    "request_uri, request_body, body_sha256, rule, message, array_to_json(approver_groups)::text, "
    "array_to_json(approver_users)::text, min_approvals, mode, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "coalesce(to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), decided_by, "
    "decision_reason, coalesce(to_char(executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(preview::text, ''), source_ip, user_agent";

// An approved request may be executed (or retried, in async mode) for as long as it waited to be
// approved at most: its time to live counts again from the decision.
constexpr const char* kStillValid = "decided_at + (expires_at - created_at) > now()";

std::vector<std::string> strings(const char* json_text) {
  auto j = json::parse(json_text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& s : j)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

ApprovalRequest from_row(const pqxx::row& r) {
  ApprovalRequest a;
  int i = 0;
  auto s = [&] { return std::string(r[i++].c_str()); };
  a.id = s();
  a.state = s();
  a.cluster = s();
  a.requester.user = s();
  a.requester.uid = s();
  a.requester.groups = strings(r[i++].c_str());
  a.requester.method = s();
  a.kubectl_command = s();
  a.kubectl_session = s();
  a.verb = s();
  a.api_group = s();
  a.resource = s();
  a.subresource = s();
  a.namespace_name = s();
  a.name = s();
  a.method = s();
  a.request_uri = s();
  a.request_body = s();
  a.body_sha256 = s();
  a.rule = s();
  a.message = s();
  a.approver_groups = strings(r[i++].c_str());
  a.approver_users = strings(r[i++].c_str());
  a.min_approvals = r[i++].as<int>();
  a.mode = s();
  a.created_at = s();
  a.expires_at = s();
  a.decided_at = s();
  a.decided_by = s();
  a.decision_reason = s();
  a.executed_at = s();
  const std::string preview = s();
  if (!preview.empty()) a.preview = json::parse(preview, nullptr, false);
  a.source_ip = s();
  a.user_agent = s();
  if (a.preview.is_discarded()) a.preview = nullptr;
  return a;
}

void load_votes(pqxx::transaction_base& tx, ApprovalRequest& a) {
  a.votes.clear();
  for (const auto& v : tx.exec_params(
           "SELECT approver, vote, reason, to_char(voted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
           "FROM approval_votes WHERE approval_id = $1 ORDER BY voted_at, approver",
           a.id))
    a.votes.push_back({v[0].c_str(), v[1].c_str(), v[2].c_str(), v[3].c_str()});
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

void notify(pqxx::transaction_base& tx, const std::string& id) {
  tx.exec_params("SELECT pg_notify($1, $2)", std::string(kNotifyChannel), id);
}

}  // namespace

json to_json(const ApprovalRequest& a) {
  json votes = json::array();
  for (const auto& v : a.votes)
    votes.push_back({{"approver", v.approver}, {"vote", v.vote}, {"reason", v.reason}, {"votedAt", v.voted_at}});
  return {{"id", a.id},
          {"state", a.state},
          {"cluster", a.cluster},
          {"requester", {{"username", a.requester.user}, {"uid", a.requester.uid}, {"groups", a.requester.groups},
                         {"authMethod", a.requester.method}, {"sourceIP", a.source_ip},
                         {"userAgent", a.user_agent}}},
          {"kubectlCommand", a.kubectl_command},
          {"kubectlSession", a.kubectl_session},
          {"verb", a.verb},
          {"apiGroup", a.api_group},
          {"resource", a.resource},
          {"subresource", a.subresource},
          {"namespace", a.namespace_name},
          {"name", a.name},
          {"method", a.method},
          {"requestURI", a.request_uri},
          {"requestBody", a.request_body},
          {"bodySHA256", a.body_sha256},
          {"rule", a.rule},
          {"message", a.message},
          {"approvers", {{"groups", a.approver_groups}, {"users", a.approver_users}}},
          {"minApprovals", a.min_approvals},
          {"mode", a.mode},
          {"createdAt", a.created_at},
          {"expiresAt", a.expires_at},
          {"decidedAt", a.decided_at},
          {"decidedBy", a.decided_by},
          {"decisionReason", a.decision_reason},
          {"executedAt", a.executed_at},
          {"votes", votes},
          {"preview", a.preview}};
}

ApprovalStore::ApprovalStore(std::string database_url) : url_(std::move(database_url)) {}

pqxx::connection& ApprovalStore::conn() {
  if (!conn_ || !conn_->is_open()) {
    conn_.reset();
    conn_ = std::make_unique<pqxx::connection>(url_);
    pqxx::nontransaction(*conn_).exec("SET statement_timeout = '5s'");
  }
  return *conn_;
}

void ApprovalStore::create(const ApprovalRequest& a, const std::vector<OutboxMessage>& notifications) {
  try {
    pqxx::work tx(conn());
    tx.exec_params(
        "INSERT INTO approval_requests (id, cluster, requester, requester_uid, requester_groups, auth_method, "
        "kubectl_command, kubectl_session, verb, api_group, resource, subresource, namespace, name, method, "
        "request_uri, request_body, body_sha256, rule, message, approver_groups, approver_users, min_approvals, mode, "
        "expires_at, preview, content_type, content_encoding, source_ip, user_agent) VALUES ($1::uuid, $2, $3, $4, ARRAY(SELECT json_array_elements_text($5::json)), $6, $7, $8, "
        "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, ARRAY(SELECT json_array_elements_text($21::json)), "
        "ARRAY(SELECT json_array_elements_text($22::json)), $23, $24, now() + make_interval(secs => $25), "
        "NULLIF($26, 'null')::jsonb, $27, $28, $29, $30)",
        a.id, a.cluster, a.requester.user, a.requester.uid, json(a.requester.groups).dump(), a.requester.method,
        a.kubectl_command, a.kubectl_session, a.verb, a.api_group, a.resource, a.subresource, a.namespace_name, a.name,
        a.method, a.request_uri, a.request_body, a.body_sha256, a.rule, a.message, json(a.approver_groups).dump(),
        json(a.approver_users).dump(), a.min_approvals, a.mode, static_cast<long long>(a.timeout.count()),
        a.preview.dump(), a.content_type, a.content_encoding, a.source_ip, a.user_agent);
    for (const auto& n : notifications)
      tx.exec_params("INSERT INTO notification_outbox (sink, event, approval_id, payload) VALUES ($1, $2, $3::uuid, "
                     "$4::json)",
                     n.sink, n.event, a.id, n.payload.dump());
    notify(tx, a.id);
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    conn_.reset();
    throw;
  }
}

std::optional<IdenticalApproval> ApprovalStore::find_identical(const ApprovalRequest& p) {
  try {
    pqxx::work tx(conn());
    // exec, attach and port-forward arrive as a WebSocket GET or an SPDY POST (kubectl falls back
    // from one to the other): both forms are one request for approval.
    const bool connect = p.api_group.empty() && p.resource == "pods" &&
                         (p.subresource == "exec" || p.subresource == "attach" || p.subresource == "portforward");
    const std::string same =
        "requester = $1 AND requester_uid = $2 AND cluster = $3 AND (method = $4 OR ($9 AND $4 IN ('GET', 'POST') AND method IN ('GET', 'POST'))) "
        "AND request_uri = $5 AND body_sha256 = $6 AND content_type = $7 AND content_encoding = $8";
    auto claimed = tx.exec_params(
        std::string("UPDATE approval_requests SET state = 'executed', executed_at = now() WHERE id = (SELECT id FROM "
                    "approval_requests WHERE state = 'approved' AND ") + same + " AND " + kStillValid +
            " ORDER BY decided_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id::text, decided_by",
        p.requester.user, p.requester.uid, p.cluster, p.method, p.request_uri, p.body_sha256, p.content_type,
        p.content_encoding, connect);
    if (!claimed.empty()) {
      notify(tx, claimed[0][0].c_str());
      tx.commit();
      return IdenticalApproval{IdenticalApproval::Kind::claimed, claimed[0][0].c_str(), claimed[0][1].c_str(), "",
                               false};
    }
    const std::string recent = "decided_at > now() - make_interval(secs => " +
                               std::to_string(kRecentDecisionSeconds) + ")";
    auto open = tx.exec_params(
        "SELECT id::text, state, decided_by, decision_reason, coalesce(" + recent + ", false) FROM approval_requests "
        "WHERE ((state = 'pending' AND expires_at > now()) OR (state = 'rejected' AND " + std::string(kStillValid) +
            ") OR (state IN ('rejected', 'expired') AND " + recent + ")) AND " + same +
            " ORDER BY created_at DESC LIMIT 1",
        p.requester.user, p.requester.uid, p.cluster, p.method, p.request_uri, p.body_sha256, p.content_type,
        p.content_encoding, connect);
    tx.commit();
    if (open.empty()) return std::nullopt;
    const std::string state = open[0][1].c_str();
    const auto kind = state == "pending"    ? IdenticalApproval::Kind::pending
                      : state == "expired" ? IdenticalApproval::Kind::expired
                                           : IdenticalApproval::Kind::rejected;
    return IdenticalApproval{kind, open[0][0].c_str(), open[0][2].c_str(), open[0][3].c_str(),
                             open[0][4].as<bool>()};
  } catch (const pqxx::broken_connection&) {
    conn_.reset();
    throw;
  }
}

std::optional<ApprovalRequest> ApprovalStore::get(const std::string& id) {
  if (!is_uuid(id)) return std::nullopt;
  pqxx::work tx(conn());
  auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM approval_requests WHERE id = $1::uuid", id);
  if (rows.empty()) return std::nullopt;
  auto a = from_row(rows[0]);
  load_votes(tx, a);
  return a;
}

int ApprovalStore::pending_count(const std::string& requester) {
  pqxx::work tx(conn());
  const auto n = tx.exec_params1("SELECT count(*) FROM approval_requests WHERE requester = $1 AND state = 'pending' "
                                 "AND expires_at > now()", requester)[0].as<int>();
  tx.commit();
  return n;
}

bool may_read(const ApprovalRequest& a, const Identity& reader, const std::vector<std::string>& viewer_groups) {
  auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  if (reader.user == a.requester.user || has(a.approver_users, reader.user)) return true;
  for (const auto& g : reader.groups)
    if (has(a.approver_groups, g) || has(viewer_groups, g)) return true;
  return false;
}

std::vector<ApprovalRequest> ApprovalStore::list(const ListFilter& f) {
  pqxx::work tx(conn());
  auto rows = tx.exec_params(std::string("SELECT ") + kColumns +
                                 " FROM approval_requests WHERE ($1 = '' OR state = $1) AND ($2 = '' OR cluster = $2) "
                                 "AND ($3 = '' OR requester = $3) AND ($5 OR requester = $6 OR $6 = ANY(approver_users) "
                                 "OR approver_groups && ARRAY(SELECT json_array_elements_text($7::json))) "
                                 "ORDER BY created_at DESC LIMIT $4",
                             f.state, f.cluster, f.requester, std::clamp(f.limit, 1, 1000), !f.reader.has_value(),
                             f.reader ? f.reader->user : std::string(),
                             json(f.reader ? f.reader->groups : std::vector<std::string>{}).dump());
  std::vector<ApprovalRequest> out;
  for (const auto& r : rows) {
    out.push_back(from_row(r));
    load_votes(tx, out.back());
  }
  return out;
}

ApprovalRequest ApprovalStore::vote(const std::string& id, const Identity& approver, bool approve,
                                    const std::string& reason) {
  if (!is_uuid(id)) throw ApprovalError(404, "approval \"" + id + "\" not found");
  pqxx::work tx(conn());
  auto rows = tx.exec_params(std::string("SELECT ") + kColumns +
                                 ", expires_at <= now() FROM approval_requests WHERE id = $1::uuid FOR UPDATE",
                             id);
  if (rows.empty()) throw ApprovalError(404, "approval \"" + id + "\" not found");
  auto a = from_row(rows[0]);
  if (a.state == "pending" && rows[0][rows[0].size() - 1].as<bool>()) {
    tx.exec_params("UPDATE approval_requests SET state = 'expired', decided_at = now() WHERE id = $1::uuid", id);
    notify(tx, id);
    tx.commit();
    throw ApprovalError(409, "approval " + id + " expired at " + a.expires_at);
  }
  if (a.state != "pending") throw ApprovalError(409, "approval " + id + " is already " + a.state);
  // The same person through another token, certificate or issuer is still the same user name.
  if (approver.user == a.requester.user)
    throw ApprovalError(403, approver.user + " requested this and cannot approve or reject it");
  const bool listed =
      std::find(a.approver_users.begin(), a.approver_users.end(), approver.user) != a.approver_users.end() ||
      std::any_of(approver.groups.begin(), approver.groups.end(), [&](const std::string& g) {
        return std::find(a.approver_groups.begin(), a.approver_groups.end(), g) != a.approver_groups.end();
      });
  if (!listed) {
    std::string who;
    for (const auto& g : a.approver_groups) who += (who.empty() ? "group " : ", group ") + g;
    for (const auto& u : a.approver_users) who += (who.empty() ? "user " : ", user ") + u;
    throw ApprovalError(403, approver.user + " is not an approver of rule '" + a.rule + "' (approvers: " + who + ")");
  }
  auto inserted = tx.exec_params(
      "INSERT INTO approval_votes (approval_id, approver, approver_groups, vote, reason) VALUES ($1::uuid, $2, "
      "ARRAY(SELECT json_array_elements_text($3::json)), $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
      id, approver.user, json(approver.groups).dump(), std::string(approve ? "approve" : "reject"), reason);
  if (inserted.empty()) throw ApprovalError(409, approver.user + " has already voted on approval " + id);
  if (!approve) {
    tx.exec_params("UPDATE approval_requests SET state = 'rejected', decided_at = now(), decided_by = $2, "
                   "decision_reason = $3 WHERE id = $1::uuid",
                   id, approver.user, reason);
  } else {
    tx.exec_params("UPDATE approval_requests r SET state = 'approved', decided_at = now(), decided_by = v.who, "
                   "decision_reason = $2 FROM (SELECT string_agg(approver, ', ' ORDER BY voted_at) AS who, count(*) AS n "
                   "FROM approval_votes WHERE approval_id = $1::uuid AND vote = 'approve') v "
                   "WHERE r.id = $1::uuid AND v.n >= r.min_approvals",
                   id, reason);
  }
  notify(tx, id);
  auto after = tx.exec_params(std::string("SELECT ") + kColumns + " FROM approval_requests WHERE id = $1::uuid", id);
  auto result = from_row(after[0]);
  load_votes(tx, result);
  tx.commit();
  return result;
}

bool ApprovalStore::claim_execution(const std::string& id) {
  pqxx::work tx(conn());
  auto r = tx.exec_params(std::string("UPDATE approval_requests SET state = 'executed', executed_at = now() "
                                      "WHERE id = $1::uuid AND state = 'approved' AND ") + kStillValid + " RETURNING 1",
                          id);
  if (r.empty()) return false;
  notify(tx, id);
  tx.commit();
  return true;
}

void ApprovalStore::cancel(const std::string& id) {
  pqxx::work tx(conn());
  auto r = tx.exec_params("UPDATE approval_requests SET state = 'cancelled', decided_at = now() "
                          "WHERE id = $1::uuid AND state = 'pending' RETURNING 1",
                          id);
  if (!r.empty()) notify(tx, id);
  tx.commit();
}

std::vector<std::string> ApprovalStore::expire_due() {
  pqxx::work tx(conn());
  std::vector<std::string> ids;
  // An approved request that nobody executed in time keeps its decision (decided_at, decided_by).
  for (const auto& r : tx.exec(std::string("UPDATE approval_requests SET state = 'expired', decided_at = "
                                           "CASE WHEN state = 'pending' THEN now() ELSE decided_at END "
                                           "WHERE (state = 'pending' AND expires_at <= now()) OR (state = 'approved' "
                                           "AND NOT (") + kStillValid + ")) RETURNING id::text")) {
    ids.push_back(r[0].c_str());
    notify(tx, ids.back());
  }
  tx.commit();
  return ids;
}

}  // namespace sluice::gateway::approval
