// The approval rules, each against a real PostgreSQL: self-approval refused, only the rule's
// approvers count, min_approvals distinct people, one rejection ends it, expiry, at most one
// execution, and a NOTIFY for every change.
#include <doctest/doctest.h>

#include <thread>

#include "gateway/approval/approval_store.h"
#include "gateway/audit/audit_event.h"
#include "gateway/store/migrator.h"
#include "test_database.h"

using namespace sluice::gateway;
using approval::ApprovalError;
using approval::ApprovalRequest;
using approval::ApprovalStore;

namespace {

ApprovalRequest sample(int min_approvals = 1, std::chrono::seconds timeout = std::chrono::seconds(600)) {
  ApprovalRequest a;
  a.id = audit::new_audit_id();
  a.cluster = "prod";
  a.requester = {"automation-bot", "uid-bot", {"ci", "bots"}, {}, "static-token"};
  a.kubectl_command = "kubectl create";
  a.verb = "create";
  a.api_group = "rbac.authorization.k8s.io";
  a.resource = "clusterrolebindings";
  a.method = "POST";
  a.request_uri = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
  a.request_body = R"({"kind":"ClusterRoleBinding"})";
  a.body_sha256 = std::string(64, 'a');
  a.rule = "cluster-rbac-changes";
  a.approver_groups = {"sluice-reviewers"};
  a.approver_users = {"carol"};
  a.min_approvals = min_approvals;
  a.timeout = timeout;
  return a;
}

const Identity kAlice{"alice", "", {"sluice-reviewers"}, {}, "oidc"};
const Identity kBob{"bob", "", {"sluice-reviewers", "oncall"}, {}, "x509"};
const Identity kCarol{"carol", "", {}, {}, "static-token"};
const Identity kMallory{"mallory", "", {"developers"}, {}, "static-token"};

int code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApprovalError& e) {
    return e.code;
  }
  return 0;
}

}  // namespace

TEST_CASE("approvals: who may decide, and how a request becomes approved, rejected or executed") {
  const auto url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  ApprovalStore s(url);
  pqxx::connection listener(url);
  pqxx::nontransaction(listener).exec(std::string("LISTEN ") + approval::kNotifyChannel);
  int notifications = 0;
  struct Counter : pqxx::notification_receiver {
    Counter(pqxx::connection_base& c, int& n) : notification_receiver(c, approval::kNotifyChannel), n(n) {}
    void operator()(const std::string&, int) override { ++n; }
    int& n;
  } counter(listener, notifications);

  auto a = sample(2);
  s.create(a);
  auto got = s.get(a.id);
  REQUIRE(got);
  CHECK(got->state == "pending");
  CHECK(got->requester.groups == std::vector<std::string>{"ci", "bots"});
  CHECK(got->expires_at.size() == 20);
  CHECK(s.list({"pending", "", "", 10, std::nullopt}).size() == 1);
  CHECK(s.list({"pending", "prod", "automation-bot", 10, std::nullopt}).size() == 1);
  CHECK(s.list({"", "staging", "", 10, std::nullopt}).empty());
  CHECK(s.list({"", "", "someone-else", 10, std::nullopt}).empty());

  // The requester, also through another way of logging in, and people the rule does not name.
  auto self = kMallory;
  self.user = "automation-bot";
  self.groups = {"sluice-reviewers"};
  CHECK(code_of([&] { s.vote(a.id, self, true, "me"); }) == 403);
  CHECK(code_of([&] { s.vote(a.id, kMallory, true, ""); }) == 403);
  CHECK(code_of([&] { s.vote(a.id, kMallory, false, "no"); }) == 403);

  // Two distinct approvers: one vote is not enough, the same person twice does not count twice.
  CHECK(s.vote(a.id, kAlice, true, "looks fine").state == "pending");
  CHECK(code_of([&] { s.vote(a.id, kAlice, true, "again"); }) == 409);
  const auto approved = s.vote(a.id, kCarol, true, "ok");  // listed by name, not by group
  CHECK(approved.state == "approved");
  CHECK(approved.decided_by == "alice, carol");
  CHECK(approved.votes.size() == 2);
  CHECK(code_of([&] { s.vote(a.id, kBob, false, "late"); }) == 409);

  // Executed at most once.
  CHECK(s.claim_execution(a.id));
  CHECK_FALSE(s.claim_execution(a.id));
  CHECK(s.get(a.id)->state == "executed");

  // One rejection ends it, whatever the approvals before.
  auto b = sample(3);
  s.create(b);
  s.vote(b.id, kAlice, true, "");
  const auto rejected = s.vote(b.id, kBob, false, "not during the freeze");
  CHECK(rejected.state == "rejected");
  CHECK(rejected.decided_by == "bob");
  CHECK(rejected.decision_reason == "not during the freeze");
  CHECK_FALSE(s.claim_execution(b.id));

  // Expiry: no votes after it, and expire_due finds the ones nobody decided.
  auto c = sample(1, std::chrono::seconds(1));
  s.create(c);
  auto d = sample(1, std::chrono::seconds(1));
  s.create(d);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(code_of([&] { s.vote(c.id, kAlice, true, ""); }) == 409);
  CHECK(s.get(c.id)->state == "expired");
  CHECK(s.expire_due() == std::vector<std::string>{d.id});

  auto e = sample();
  s.create(e);
  s.cancel(e.id);
  CHECK(s.get(e.id)->state == "cancelled");
  CHECK(code_of([&] { s.vote(e.id, kAlice, true, ""); }) == 409);
  CHECK(code_of([&] { s.vote("not-a-uuid", kAlice, true, ""); }) == 404);
  CHECK_FALSE(s.get("00000000-0000-4000-8000-000000000000"));

  while (listener.get_notifs() > 0) {
  }
  CHECK(notifications >= 10);  // creates, votes, decisions, execution, expiry, cancel
}

TEST_CASE("approvals: an identical retry claims an approved request once, joins a pending one, learns of a rejection") {
  const auto url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  ApprovalStore s(url);
  using Kind = approval::IdenticalApproval::Kind;

  auto a = sample();
  CHECK_FALSE(s.find_identical(a));
  s.create(a);
  auto same = s.find_identical(a);
  REQUIRE(same);
  CHECK(same->kind == Kind::pending);
  CHECK(same->id == a.id);

  // Anything that differs is another request: body, path, cluster, identity.
  for (auto change : std::vector<std::function<void(ApprovalRequest&)>>{
           [](ApprovalRequest& r) { r.body_sha256 = std::string(64, 'b'); },
           [](ApprovalRequest& r) { r.request_uri += "?dryRun=All"; },
           [](ApprovalRequest& r) { r.cluster = "staging"; },
           [](ApprovalRequest& r) { r.requester.user = "other-bot"; },
           [](ApprovalRequest& r) { r.requester.uid = "another-uid"; },
           [](ApprovalRequest& r) { r.method = "PUT"; },
           [](ApprovalRequest& r) { r.content_type = "application/merge-patch+json"; },
           [](ApprovalRequest& r) { r.content_encoding = "gzip"; }}) {
    auto other = a;
    change(other);
    CHECK_FALSE(s.find_identical(other));
  }

  s.vote(a.id, kAlice, true, "");
  same = s.find_identical(a);
  REQUIRE(same);
  CHECK(same->kind == Kind::claimed);
  CHECK(same->decided_by == "alice");
  CHECK(s.get(a.id)->state == "executed");
  CHECK_FALSE(s.find_identical(a));  // executed: the next identical request needs its own approval
  CHECK_FALSE(s.claim_execution(a.id));

  auto r = sample();
  s.create(r);
  s.vote(r.id, kBob, false, "not now");
  same = s.find_identical(r);
  REQUIRE(same);
  CHECK(same->kind == Kind::rejected);
  CHECK(same->decided_by == "bob");
  CHECK(same->decision_reason == "not now");
  CHECK(same->recent);  // decided moments ago: a held retry hears it at once
}

TEST_CASE("approvals: exec's WebSocket GET and SPDY POST are one request - other methods are not") {
  const auto url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  ApprovalStore s(url);
  auto a = sample();
  a.api_group = "";  // core: pods/exec
  a.resource = "pods";
  a.subresource = "exec";
  a.method = "GET";
  a.request_uri = "/api/v1/namespaces/shop/pods/web-0/exec?command=sh&stdin=true";
  s.create(a);
  auto post = a;
  post.method = "POST";
  auto same = s.find_identical(post);
  REQUIRE(same);
  CHECK(same->id == a.id);
  s.vote(a.id, kBob, false, "no shell");
  same = s.find_identical(post);
  REQUIRE(same);
  CHECK(same->kind == approval::IdenticalApproval::Kind::rejected);
  CHECK(same->recent);
  auto put = a;  // GET and POST only: no other method is an exec
  put.method = "PUT";
  CHECK_FALSE(s.find_identical(put));
  // A pods create shares nothing with a pods/exec of the same URI shape.
  auto create = sample();
  create.method = "GET";
  s.create(create);
  auto create_post = create;
  create_post.method = "POST";
  CHECK_FALSE(s.find_identical(create_post));
}

TEST_CASE("approvals: an approval not executed within its time to live after the decision expires") {
  const auto url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  ApprovalStore s(url);
  auto a = sample(1, std::chrono::seconds(1));
  s.create(a);
  s.vote(a.id, kAlice, true, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK_FALSE(s.find_identical(a));
  CHECK_FALSE(s.claim_execution(a.id));
  CHECK(s.expire_due() == std::vector<std::string>{a.id});
  const auto got = s.get(a.id);
  CHECK(got->state == "expired");
  CHECK(got->decided_by == "alice");  // the decision stays on record
}

TEST_CASE("approvals: the preview and the notifications are stored with the approval, in one transaction") {
  const auto url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  ApprovalStore s(url);
  auto a = sample();
  a.preview = {{"kind", "dryRun"}, {"status", 201}, {"diff", "--- /dev/null\n+++ dry-run/x\n"}};
  s.create(a, {{"hook", "approval.requested", {{"n", 1}}}, {"mail", "approval.requested", {{"n", 2}}}});
  CHECK(s.get(a.id)->preview == a.preview);
  CHECK(approval::to_json(*s.get(a.id))["preview"]["status"] == 201);
  pqxx::connection c(url);
  pqxx::work tx(c);
  auto rows = tx.exec("SELECT sink, event, payload::text, state, approval_id::text FROM notification_outbox ORDER BY id");
  REQUIRE(rows.size() == 2);
  CHECK(std::string(rows[0][0].c_str()) == "hook");
  CHECK(std::string(rows[1][2].c_str()) == R"({"n":2})");
  CHECK(std::string(rows[0][3].c_str()) == "pending");
  CHECK(std::string(rows[0][4].c_str()) == a.id);
  tx.commit();

  // A failed create leaves no notification behind: the same id again violates the primary key.
  CHECK_THROWS(s.create(a, {{"hook", "approval.requested", {{"n", 3}}}}));
  pqxx::work tx2(c);
  CHECK(tx2.exec("SELECT count(*) FROM notification_outbox")[0][0].as<int>() == 2);
}

TEST_CASE("approvals: a reader lists only its own requests and those of rules it approves") {
  const auto url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  ApprovalStore s(url);
  auto bots = sample();  // requested by automation-bot, approvers: group sluice-reviewers, user carol
  s.create(bots);
  auto other = sample();
  other.requester = {"dev", "", {"developers"}, {}, "static-token"};
  other.approver_groups = {"platform"};
  other.approver_users = {};
  s.create(other);
  auto ids = [&](const Identity& reader) {
    ApprovalStore::ListFilter f;
    f.reader = reader;
    std::vector<std::string> out;
    for (const auto& a : s.list(f)) out.push_back(a.id);
    return out;
  };
  CHECK(ids(kAlice) == std::vector<std::string>{bots.id});   // approver by group
  CHECK(ids(kCarol) == std::vector<std::string>{bots.id});   // approver by name
  CHECK(ids(kMallory).empty());                               // neither
  CHECK(ids(other.requester) == std::vector<std::string>{other.id});  // the requester, its own only
  CHECK(ids({"automation-bot", "", {"bots"}, {}, "static-token"}) == std::vector<std::string>{bots.id});
  CHECK(s.list({}).size() == 2);  // no reader: everything (viewer groups, the CLI's own filters)

  CHECK(approval::may_read(bots, kAlice, {}));
  CHECK_FALSE(approval::may_read(bots, kMallory, {}));
  CHECK(approval::may_read(bots, kMallory, {"developers"}));
  CHECK(approval::may_read(other, other.requester, {}));
}
