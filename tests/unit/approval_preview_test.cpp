// Pure pieces of what reviewers see: the unified diff, masking of Secret values in previews, and
// the messages the notification sinks send.
#include <doctest/doctest.h>

#include "gateway/approval/approval_preview.h"
#include "gateway/approval/unified_diff.h"
#include "gateway/notify/approval_event.h"
#include "gateway/notify/email_sink.h"
#include "gateway/notify/slack_sink.h"
#include "gateway/notify/webhook_sink.h"

using namespace sluice::gateway;
using nlohmann::json;

TEST_CASE("unified_diff prints what diff -u prints") {
  CHECK(approval::unified_diff("a\nb\n", "a\nb\n", "x", "y") == "");
  // diff -u <(printf '1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n') <(printf '1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n')
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
  const std::string after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n";
  CHECK(approval::unified_diff(before, after, "live", "dry-run") ==
        "--- live\n+++ dry-run\n@@ -2,9 +2,10 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n+11\n");
  // Changes further apart than twice the context get hunks of their own.
  std::string one_to_twenty, changed;
  for (int i = 1; i <= 20; ++i) {
    one_to_twenty += std::to_string(i) + "\n";
    changed += (i == 2 ? "two" : i == 19 ? "nineteen" : std::to_string(i)) + "\n";
  }
  CHECK(approval::unified_diff(one_to_twenty, changed, "a", "b") ==
        "--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n");
  // Changes closer than seven lines share a hunk.
  CHECK(approval::unified_diff("a\nb\nc\nd\ne\n", "A\nb\nc\nd\nE\n", "l", "r") ==
        "--- l\n+++ r\n@@ -1,5 +1,5 @@\n-a\n+A\n b\n c\n d\n-e\n+E\n");
  // A new object: everything added, the empty side named as line 0.
  CHECK(approval::unified_diff("", "x\ny\n", "/dev/null", "new") == "--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+x\n+y\n");
  CHECK(approval::unified_diff("x\ny\n", "", "old", "/dev/null") == "--- old\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n");
  const auto big = approval::unified_diff(std::string(20, '\n'), "x", "a", "b", 10);
  CHECK(big.find("not compared line by line: 20 and 1 lines") != std::string::npos);
}

TEST_CASE("previews never carry a Secret's values") {
  json secret = {{"kind", "Secret"},
                 {"metadata",
                  {{"name", "db"},
                   {"annotations", {{"kubectl.kubernetes.io/last-applied-configuration", R"({"data":{"pw":"c2VjcmV0"}})"}}}}},
                 {"data", {{"pw", "c2VjcmV0"}}},
                 {"stringData", {{"token", "hunter2"}}}};
  json list = {{"kind", "SecretList"}, {"items", json::array({secret})}};
  json status = {{"kind", "Status"}, {"details", secret}};
  for (json* j : {&secret, &list, &status}) {
    approval::mask_secret_values(*j);
    const auto text = j->dump();
    CHECK(text.find("c2VjcmV0") == std::string::npos);
    CHECK(text.find("hunter2") == std::string::npos);
    CHECK(text.find("\"pw\"") != std::string::npos);  // keys stay visible
  }
  json cm = {{"kind", "ConfigMap"}, {"data", {{"pw", "plain"}}}};
  approval::mask_secret_values(cm);
  CHECK(cm["data"]["pw"] == "plain");
}

namespace {
json sample_event() {
  approval::ApprovalRequest a;
  a.id = "3f2a0000-0000-4000-8000-000000000001";
  a.cluster = "prod";
  a.requester.user = "automation-bot";
  a.kubectl_command = "kubectl create clusterrolebinding";
  a.verb = "create";
  a.resource = "clusterrolebindings";
  a.name = "";
  a.rule = "cluster-rbac";
  a.message = "cluster-wide <RBAC> & more";
  a.expires_at = "2026-12-02T10:00:00Z";
  a.preview = {{"kind", "dryRun"}};
  return notify::approval_event(a, "https://gw.example:8443/");
}
}  // namespace

TEST_CASE("notification messages: the event, Slack's Block Kit, the email") {
  const auto event = sample_event();
  CHECK(event["type"] == "approval.requested");
  CHECK(event["links"]["approve"] == "https://gw.example:8443/api/v1/approvals/3f2a0000-0000-4000-8000-000000000001/approve");
  CHECK(event["links"]["review"] == "https://gw.example:8443/ui/approvals/3f2a0000-0000-4000-8000-000000000001");
  CHECK_FALSE(event["approval"].contains("preview"));

  const auto slack = notify::slack_message(event);
  CHECK(slack["text"] == "automation-bot wants to create clusterrolebindings on prod (approval needed)");
  CHECK(slack["blocks"][2]["fields"][0]["text"] == "*Requester*\nautomation-bot");
  CHECK(slack["blocks"][2]["fields"][4]["text"] == "*Rule*\ncluster-rbac: cluster-wide &lt;RBAC&gt; &amp; more");
  CHECK(slack["blocks"][3]["elements"].size() == 1);  // a browser opens the UI's page, where reviewers decide
  CHECK(slack["blocks"][3]["elements"][0]["url"] == "https://gw.example:8443/ui/approvals/3f2a0000-0000-4000-8000-000000000001");

  const auto mail = notify::email_message(event, "sluice@example.com", {"a@example.com", "b@example.com"}, 7);
  CHECK(mail.find("To: a@example.com, b@example.com\r\n") != std::string::npos);
  CHECK(mail.find("Subject: [sluice] automation-bot wants to create clusterrolebindings on prod (approval needed)\r\n") !=
        std::string::npos);
  CHECK(mail.find("Message-ID: <approval-3f2a0000-0000-4000-8000-000000000001.7@example.com>") != std::string::npos);
  CHECK(mail.find("\r\n\r\n") < mail.find("Request: create clusterrolebindings\r\n"));
  CHECK(mail.find("Review: https://gw.example:8443/ui/approvals/3f2a0000-0000-4000-8000-000000000001\r\n") != std::string::npos);
  CHECK(mail.find("Request: ") < mail.find("Client's words (unverified): kubectl create clusterrolebinding\r\n"));
  // A line break in a field cannot start a header of its own.
  auto evil = event;
  evil["approval"]["requester"]["username"] = "bot\r\nBcc: everyone@example.com";
  const auto m2 = notify::email_message(evil, "s@example.com", {"a@example.com"}, 1);
  CHECK(m2.find("\r\nBcc:") == std::string::npos);
}

TEST_CASE("webhook signatures are HMAC-SHA256 (RFC 4231 test case 2)") {
  CHECK(notify::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
