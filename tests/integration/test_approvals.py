"""Approvals with the real kubectl: held requests released by a reviewer exactly once, the
requester never deciding, rejections with their reason, two-person rules, timeouts; what reviewers
are shown (the live object, the dry run's diff, a namespace's contents); async mode and a gateway
restart; notifications from the outbox; the approval store going away."""
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import time
import uuid

from conftest import kubectl, wait_serving
from harness import ROOT, approval_id, free_port, kubectl_in_background, read, shell_lib, wait_until

HERE = os.path.join(ROOT, "tests", "gateway")
CLUSTER_RBAC = """  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    message: cluster-wide RBAC needs a reviewer
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
"""


def test_a_held_request_waits_for_reviewers_and_passes_once(own_gateway, standin, db, tmp_path):
    # A held request waits until a reviewer approves it with the CLI, then reaches the cluster
    # exactly once; the requester cannot approve their own request; a rejection reaches kubectl with
    # its reason; a two-person rule needs two distinct reviewers; an undecided request times out.
    cluster, tag = f"apr{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    bob = tmp_path / "bob.token"
    bob.write_text(secrets.token_hex(24) + "\n")
    gw = own_gateway(cluster, "rules:\n" + CLUSTER_RBAC + """  - name: two-people
    match: {verbs: [create], resources: [clusterroles]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, minApprovals: 2, timeout: 10m}
  - name: quick
    match: {verbs: [create], resources: [configmaps], namespaces: [quick-approvals]}
    action: approve
    approval: {approvers: {users: [alice-reviewer]}, timeout: 2s}
""", extra_tokens=f'{bob.read_text().strip()},bob-reviewer,uid-bob,"sluice-reviewers"\n')
    pending = lambda: gw.pending_approval(cluster)  # noqa: E731 (one at a time in this test)

    seq = standin.seq()
    held = kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "create", "clusterrolebinding", f"held-{tag}",
                                 "--clusterrole=view", "--user=someone")
    try:
        approval = wait_until(pending, what="a pending approval")
        assert held.still_running_after(1), f"kubectl did not wait for the approval: {held.output()}"
        assert not [x for x in standin.requests_since(seq)["items"] if f"held-{tag}" in json.dumps(x)], \
            "the held request reached the cluster early"
        # the requester cannot approve it, also not by asking for it with their own token
        out = gw.reviewer_cli("approve", approval, token_file=os.path.join(gw.dir, "bot.token"), check=False)
        assert out.returncode != 0, "the requester approved their own request"
        assert "automation-bot requested this and cannot approve or reject it" in out.stderr + out.stdout
        assert "HTTP 403" in out.stderr + out.stdout
        t0 = time.monotonic()
        gw.reviewer_cli("approve", approval, "--reason", "looks right")
        assert held.wait() == 0, f"kubectl failed after the approval: {held.output()}"
        print(f"approve -> kubectl done: {(time.monotonic() - t0) * 1000:.0f} ms")
        assert f"clusterrolebinding.rbac.authorization.k8s.io/held-{tag} created" in held.output()
    finally:
        held.stop()
    try:
        ours = {str(r[0]) for r in db.rows("SELECT id FROM audit_events WHERE cluster = %s", cluster)}
        posts = [x for x in standin.requests_since(seq)["items"] if x.get("method") == "POST" and x.get("auditID") in ours
                 and "clusterrolebindings" in x["uri"] and "dryRun=All" not in x["uri"]]
        assert len(posts) == 1, f"the approved request did not reach the cluster exactly once: {posts}"
        assert gw.approval(approval)["state"] == "executed", "the approval is not executed"
        assert gw.reviewer_cli("approve", approval, check=False).returncode != 0, "a decided approval took another vote"
        wait_until(lambda: db.value("""SELECT count(*) FROM audit_log WHERE resource = 'clusterrolebindings' AND decision = 'allowed'
                                       AND decision_reason LIKE %s AND approval_id = %s AND response_code = 201""",
                                    f"approved by alice-reviewer (approval {approval})%", approval) == 1,
                   timeout=10, what="the executed request's audit row naming its approval")

        nope = kubectl_in_background(gw.kubeconfig, tmp_path / "nope.out", "create", "clusterrolebinding", f"nope-{tag}",
                                     "--clusterrole=view", "--user=someone")
        gw.reviewer_cli("reject", wait_until(pending, what="a pending approval for the second request"),
                        "--reason", "not during the freeze")
        assert nope.wait() != 0, "kubectl succeeded after a rejection"
        assert "rejected by alice-reviewer: not during the freeze" in nope.output()
        assert kubectl(standin.kubeconfig, "get", "clusterrolebinding", f"nope-{tag}", check=False).returncode != 0, \
            "the rejected request reached the cluster"

        # Two approvers: one approval is not enough, the same reviewer twice does not count twice.
        two = kubectl_in_background(gw.kubeconfig, tmp_path / "two.out", "create", "clusterrole", f"two-{tag}", "--verb=get",
                                    "--resource=pods")
        try:
            approval = wait_until(pending, what="a pending approval for the two-person rule")
            gw.reviewer_cli("approve", approval)
            assert gw.reviewer_cli("approve", approval, check=False).returncode != 0, "one reviewer voted twice"
            assert two.still_running_after(1), f"one approval of two let the request go: {two.output()}"
            assert gw.approval(approval)["state"] == "pending", "one approval of two decided it"
            gw.reviewer_cli("approve", approval, "--reason", "second pair of eyes", token_file=str(bob))
            assert two.wait() == 0, f"kubectl failed after two approvals: {two.output()}"
        finally:
            two.stop()
        assert gw.approval(approval)["decidedBy"] == "alice-reviewer, bob-reviewer", "the approval does not name both approvers"

        seq = standin.seq()
        out = kubectl(gw.kubeconfig, "create", "cm", f"quick-{tag}", "-n", "quick-approvals", check=False)
        assert out.returncode != 0, "an undecided approval let the request through"
        assert "approval timed out after 2s" in out.stderr
        reached = [x for x in standin.requests_since(seq)["items"] if "quick-approvals" in json.dumps(x)
                   and "dryRun=All" not in json.dumps(x)]
        assert not reached, "the timed-out request reached the cluster (not as the reviewers' dry run)"
    finally:
        kubectl(standin.kubeconfig, "delete", "clusterrolebinding", f"held-{tag}", check=False)
        kubectl(standin.kubeconfig, "delete", "clusterrole", f"two-{tag}", check=False)


def test_what_reviewers_are_shown(own_gateway, standin, db, tmp_path):
    # An exec into a privileged pod waits (into a plain pod it does not), a delete in kube-system
    # waits and shows the object it removes, a patch shows the API server's dry run and its diff
    # against the live object, a namespace deletion shows what would go with it, and a kubectl that
    # gives up cancels its approval.
    cluster, tag = f"hold{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, """rules:
  - name: exec-privileged
    match: {verbs: [create], resources: [pods/exec, pods/attach]}
    when: {privileged: true}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
  - name: kube-system-writes
    match: {verbs: [create, update, patch, delete, deletecollection], namespaces: [kube-system]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
  - name: namespace-deletion
    match: {verbs: [delete], resources: [namespaces]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
  - name: guarded-configmaps
    match: {verbs: [patch], resources: [configmaps], names: ["diffme-*"]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
""")

    def k(*args, **kw):
        return kubectl(gw.kubeconfig, *args, **kw)

    def direct(*args, **kw):
        return kubectl(standin.kubeconfig, *args, **kw)

    def pending():
        return gw.pending_approval(cluster, "--cluster", cluster, "--requester", "automation-bot")

    cleanups = []
    try:
        k("apply", "-n", "default", "-f", "-", stdin=f"""apiVersion: v1
kind: Pod
metadata: {{name: priv-{tag}}}
spec:
  containers: [{{name: c, image: busybox, securityContext: {{privileged: true}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: plain-{tag}}}
spec:
  containers: [{{name: c, image: busybox}}]
""")
        cleanups.append(("delete", "pod", f"priv-{tag}", f"plain-{tag}", "-n", "default", "--wait=false"))
        out = k("exec", "-n", "default", f"plain-{tag}", "--", "sh", "-c", "echo plain-ok").stdout
        assert out == "plain-ok\n", f"exec into the plain pod printed: {out}"
        assert not pending(), "exec into a plain pod asked for approval"
        ex = kubectl_in_background(gw.kubeconfig, tmp_path / "exec.out", "exec", "-n", "default", f"priv-{tag}", "--",
                                   "sh", "-c", "echo priv-ok")
        try:
            approval = wait_until(pending, what="exec into a privileged pod waiting")
            a = gw.approval(approval)
            assert (a["subresource"], a["name"], a["rule"]) == ("exec", f"priv-{tag}", "exec-privileged"), f"exec approval: {a}"
            assert ex.running(), f"kubectl exec did not wait: {ex.output()}"
            gw.reviewer_cli("approve", approval)
            assert ex.wait() == 0, f"the approved exec failed: {ex.output()}"
            assert ex.output() == "priv-ok\n", f"the approved exec printed: {ex.output()}"
        finally:
            ex.stop()

        # a delete in kube-system waits; reviewers see the object it removes
        direct("create", "cm", f"ks-{tag}", "-n", "kube-system", "--from-literal=k=v")
        ks = kubectl_in_background(gw.kubeconfig, tmp_path / "ks.out", "delete", "cm", f"ks-{tag}", "-n", "kube-system")
        try:
            approval = wait_until(pending, what="a delete in kube-system waiting")
            p = gw.approval(approval)["preview"]
            assert (p["kind"], p["live"]["metadata"]["name"], p["live"]["data"]["k"]) == ("delete", f"ks-{tag}", "v"), \
                f"the delete's preview does not show the live object: {p}"
            assert direct("get", "cm", f"ks-{tag}", "-n", "kube-system", check=False).returncode == 0, "the held delete reached the cluster"
            gw.reviewer_cli("approve", approval)
            assert ks.wait() == 0, f"the approved delete failed: {ks.output()}"
        finally:
            ks.stop()
        assert direct("get", "cm", f"ks-{tag}", "-n", "kube-system", check=False).returncode != 0, "the approved delete did not happen"

        # a patch: the API server's dry run and the diff against the live object
        direct("create", "cm", f"diffme-{tag}", "-n", "default", "--from-literal=level=1", "--from-literal=keep=same")
        cleanups.append(("delete", "cm", f"diffme-{tag}", "-n", "default"))
        pt = kubectl_in_background(gw.kubeconfig, tmp_path / "patch.out", "patch", "cm", f"diffme-{tag}", "-n", "default",
                                   "-p", '{"data":{"level":"2"}}')
        try:
            approval = wait_until(pending, what="the guarded patch waiting")
            p = gw.approval(approval)["preview"]
            assert (p["kind"], p["status"], p["result"]["data"]["level"]) == ("dryRun", 200, "2"), \
                f"the patch's preview is not the dry run: {p}"
            diff = p["diff"]
            for expected in (f"--- live/configmaps/diffme-{tag}", f"+++ dry-run/configmaps/diffme-{tag}", '-    "level": "1"',
                             '+    "level": "2"'):
                assert expected in diff, diff
            assert not re.search(r"^[-+].*keep", diff, re.M), f"the diff shows an unchanged key: {diff}"
            assert direct("get", "cm", f"diffme-{tag}", "-n", "default", "-o", "jsonpath={.data.level}").stdout == "1", \
                "the dry run changed the object"
            assert '+    "level": "2"' in gw.reviewer_cli("approvals", "show", approval).stdout  # the table view prints the diff too
            gw.reviewer_cli("reject", approval, "--reason", "no")
            assert pt.wait() != 0, "a rejected patch went through"
        finally:
            pt.stop()
        wait_until(lambda: db.value("""SELECT count(*) FROM audit_log WHERE approval_id = %s AND decision = 'denied'
                                       AND response_code = 403 AND decision_reason = 'rejected by alice-reviewer: no'""",
                                    approval) == 1, timeout=10, what="an audit row naming the rejected approval")
        others = json.loads(gw.reviewer_cli("approvals", "--cluster", cluster, "--requester", "someone-else", "-o", "json").stdout)
        assert not others["items"], "the requester filter let another requester's approvals through"

        # a namespace deletion: what would go with it
        ns = f"nsdel-{tag}"
        direct("create", "ns", ns)
        cleanups.append(("delete", "ns", ns, "--wait=false"))
        for n in ("one", "two"):
            direct("create", "cm", f"{n}-{tag}", "-n", ns)
        nseq = standin.seq()
        nd = kubectl_in_background(gw.kubeconfig, tmp_path / "ns.out", "delete", "ns", ns)
        try:
            approval = wait_until(pending, what="the namespace deletion waiting")
            p = gw.approval(approval)["preview"]
            assert p["kind"] == "namespaceDelete", f"namespace preview: {p}"
            assert sorted(n for n in p["deletes"]["configmaps"]["names"] if n.endswith(f"-{tag}")) == [f"one-{tag}", f"two-{tag}"], \
                f"the namespace preview does not list its configmaps: {p}"
            assert p["count"] >= 2, f"the namespace preview has no count: {p}"
            # its 14 lists are one page of names each: metadata only, at most 500 items
            lists = [x for x in standin.requests_since(nseq)["items"]
                     if x.get("method") == "GET" and f"/namespaces/{ns}/" in x["uri"]]
            assert len(lists) >= 14, f"the preview listed too few collections: {lists}"
            bad = [x for x in lists if not re.search(r"[?&]limit=500($|&)", x["uri"])
                   or not x["accept"].startswith("application/json;as=PartialObjectMetadataList")]
            assert not bad, f"a preview list was not one page of metadata: {bad}"
            gw.reviewer_cli("reject", approval, "--reason", "keep it")
            assert nd.wait() != 0, "a rejected namespace deletion went through"
            assert "rejected by alice-reviewer: keep it" in nd.output()
        finally:
            nd.stop()

        # kubectl gives up while held: the approval is cancelled
        gone = kubectl_in_background(gw.kubeconfig, tmp_path / "gone.out", "create", "cm", f"gone-{tag}", "-n", "kube-system")
        approval = wait_until(pending, what="a pending approval for the abandoned request")
        gone.stop()
        wait_until(lambda: gw.approval(approval)["state"] == "cancelled", timeout=10, what="the abandoned approval cancelled")
        assert direct("get", "cm", f"gone-{tag}", "-n", "kube-system", check=False).returncode != 0, \
            "the abandoned request reached the cluster"
    finally:
        for c in cleanups:
            direct(*c, check=False)


def test_async_approvals_and_a_held_approval_across_a_restart(own_gateway, standin, tmp_path):
    # mode: async answers at once with the approval's id and where to review it; the identical
    # request passes once after the approval, a different body does not; a rejection is reported
    # to the retry. A held approval survives a gateway restart, and the retried command passes.
    cluster, tag = f"async{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, """rules:
  - name: async-configmaps
    match: {verbs: [create], resources: [configmaps], namespaces: ["async-*"]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m, mode: async}
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
""")
    server = f"https://127.0.0.1:{gw.port}"
    ns = f"async-{tag}"
    kubectl(standin.kubeconfig, "create", "ns", ns)
    try:
        blue = f'apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg, namespace: {ns}}}\ndata: {{mode: "blue"}}\n'
        green = blue.replace("blue", "green")

        def create(manifest):
            return kubectl(gw.kubeconfig, "create", "-f", "-", stdin=manifest, check=False)

        out = create(blue)
        assert out.returncode != 0, "an async approval let the request through at once"
        first = approval_id(out.stderr)
        assert first, f"no approval id in kubectl's message: {out.stderr}"
        assert f"review at {server}/ui/approvals/{first}" in out.stderr  # the reviewer UI's page
        out = create(blue)
        assert out.returncode != 0, "a pending async approval let a retry through"
        assert approval_id(out.stderr) == first, f"a retry while pending opened another approval: {out.stderr}"
        assert gw.approval(first)["mode"] == "async", "the approval is not async"
        assert kubectl(standin.kubeconfig, "get", "cm", "cfg", "-n", ns, check=False).returncode != 0, \
            "the pending request reached the cluster"
        gw.reviewer_cli("approve", first)
        out = create(green)
        assert out.returncode != 0, "another body passed on the approval of the first"
        other = approval_id(out.stderr)
        assert other and other != first, f"a different body did not get its own approval: {out.stderr}"
        out = create(blue)
        assert out.returncode == 0, f"the identical retry after the approval was refused: {out.stderr}"
        assert "configmap/cfg created" in out.stdout
        assert kubectl(standin.kubeconfig, "get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.mode}").stdout == "blue", \
            "the cluster does not have the approved object"
        assert gw.approval(first)["state"] == "executed", "the approval is not executed"
        kubectl(standin.kubeconfig, "delete", "cm", "cfg", "-n", ns)
        out = create(blue)
        assert out.returncode != 0, "one approval let the request through twice"
        again = approval_id(out.stderr)
        assert again and again != first, f"a second retry did not need a new approval: {out.stderr}"
        gw.reviewer_cli("reject", again, "--reason", "once is enough")
        out = create(blue)
        assert out.returncode != 0, "a rejected async request went through"
        assert "rejected by alice-reviewer: once is enough" in out.stderr

        # hold mode across a restart: the held connection is lost, the approval stays, the retry passes
        crb = ("create", "clusterrolebinding", f"rs-{tag}", "--clusterrole=view", "--user=someone")
        held = kubectl_in_background(gw.kubeconfig, tmp_path / "rs.out", *crb)

        try:
            approval = wait_until(lambda: gw.pending_approval(cluster, resource="clusterrolebindings"),
                                  what="a pending approval for the held request")
            gw.restart()
            assert held.wait() != 0, "kubectl succeeded while its gateway restarted"
        finally:
            held.stop()
        wait_serving(gw)
        assert gw.approval(approval)["state"] == "pending", "the pending approval did not survive the restart"
        gw.reviewer_cli("approve", approval)
        out = kubectl(gw.kubeconfig, *crb, check=False)
        assert out.returncode == 0, f"the retry after the approval failed: {out.stderr}"
        assert f"clusterrolebinding.rbac.authorization.k8s.io/rs-{tag} created" in out.stdout
        assert gw.approval(approval)["state"] == "executed", "the retried approval is not executed"
    finally:
        kubectl(standin.kubeconfig, "delete", "clusterrolebinding", f"rs-{tag}", check=False)
        kubectl(standin.kubeconfig, "delete", "ns", ns, "--wait=false", check=False)


def test_reviewers_hear_by_webhook_slack_and_email_and_nothing_is_lost(own_gateway, db, tmp_path):
    # Delivered from the outbox: the HTTPS receiver is down at first and the gateway restarts
    # meanwhile; nothing is lost.
    cluster, tag = f"notify{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    hook_port, smtp_port = free_port(), free_port()
    secret = secrets.token_hex(24)
    (tmp_path / "hook.secret").write_text(secret)
    gwd, mail, hooks = tmp_path / "gw", tmp_path / "mail.jsonl", tmp_path / "hooks.jsonl"
    receivers = [subprocess.Popen(["python3", f"{HERE}/notify_receivers.py", "smtp", str(smtp_port), str(mail)])]
    held = None
    try:
        wait_until(lambda: os.path.exists(f"{mail}.ready"), timeout=10, what="the SMTP receiver starting")
        gw = own_gateway(cluster, "rules:\n" + CLUSTER_RBAC, extra_config=f"""notifications:
  review_url: https://sluice.example.test:8443
  retry_initial_ms: 200
  sinks:
  - {{name: hook, type: webhook, url: "https://127.0.0.1:{hook_port}/hook", secret_file: {tmp_path}/hook.secret, ca_file: {gwd}/certs/ca.crt}}
  - {{name: chat, type: slack, url: "https://127.0.0.1:{hook_port}/slack", ca_file: {gwd}/certs/ca.crt}}
  - {{name: mail, type: email, url: "smtp://127.0.0.1:{smtp_port}", from: sluice@example.test, to: [oncall@example.test, sec@example.test]}}
""")
        held = kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "create", "clusterrolebinding", f"nt-{tag}",
                                     "--clusterrole=view", "--user=someone")
        approval = str(wait_until(lambda: db.value("SELECT id FROM approval_requests WHERE cluster = %s LIMIT 1", cluster),
                                  what="the approval stored"))
        wait_until(lambda: read(mail).strip(), what="an email arriving")
        message = json.loads(read(mail).splitlines()[0])
        assert message["to"] == ["<oncall@example.test>", "<sec@example.test>"], f"email recipients: {message}"
        data = message["data"]
        for expected in (f"Subject: [sluice] automation-bot wants to create clusterrolebindings on {cluster}",
                         "Requester: automation-bot", "Request: create clusterrolebindings",
                         "Client's words (unverified): kubectl create clusterrolebinding",
                         "Rule: cluster-rbac: cluster-wide RBAC needs a reviewer",
                         f"Review: https://sluice.example.test:8443/ui/approvals/{approval}",
                         f"Approve: POST https://sluice.example.test:8443/api/v1/approvals/{approval}/approve"):
            assert expected in data, data
        assert re.search(rf"Approval: {approval} \(expires [0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T", data), \
            f"the email does not say when the approval expires: {data}"
        wait_until(lambda: db.value("""SELECT count(*) FROM notification_outbox WHERE approval_id = %s AND state = 'pending'
                                       AND attempts >= 2 AND last_error <> ''""", approval) == 2, timeout=20,
                   what="the webhook and Slack deliveries retried while their receiver was down")
        gw.restart()
        receivers.append(subprocess.Popen(["python3", f"{HERE}/notify_receivers.py", "https", str(hook_port),
                                           f"{gwd}/certs/tls.crt", f"{gwd}/certs/tls.key", str(hooks)]))
        wait_until(lambda: db.value("SELECT count(*) FROM notification_outbox WHERE approval_id = %s AND state = 'delivered'",
                                    approval) == 3, timeout=30,
                   what="every notification delivered after the receiver came back")
        received = [json.loads(line) for line in read(hooks).splitlines()]
        hook = [r for r in received if r["path"] == "/hook"][0]
        body = json.loads(hook["body"])
        assert (body["type"], body["approval"]["id"], body["approval"]["requester"]["username"]) == \
            ("approval.requested", approval, "automation-bot"), f"webhook event: {body}"
        want = "sha256=" + hmac.new(secret.encode(), hook["body"].encode(), hashlib.sha256).hexdigest()
        assert hook["headers"]["X-Sluice-Signature-256"] == want, f"the webhook signature does not verify: {hook}"
        slack = json.loads([r for r in received if r["path"] == "/slack"][0]["body"])
        assert slack["blocks"][2]["fields"][0]["text"] == "*Requester*\nautomation-bot", f"Slack message: {slack}"
        assert slack["blocks"][3]["elements"][0]["url"] == f"https://sluice.example.test:8443/ui/approvals/{approval}", \
            f"Slack review link: {slack}"
        assert len(read(mail).splitlines()) == 1, "the email went out more than once"
    finally:
        if held:
            held.stop()
        for r in receivers:
            r.kill()
            r.wait()


def test_a_held_request_is_refused_when_the_approval_store_goes_away(own_gateway, standin, own_postgres, tmp_path):
    # PostgreSQL goes away while a request is held for approval: the request is refused, nothing
    # reaches the cluster (fail closed). Own database, so the outage touches no other test.
    url = read(f"{own_postgres}/url").strip()
    subprocess.run([os.environ["SLUICE_GATEWAY_BIN"], "migrate", "--database", url], check=True, capture_output=True)
    cluster, tag = f"ad{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, """rules:
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
""", database_url=url)
    held = kubectl_in_background(gw.kubeconfig, tmp_path / "down.out", "create", "clusterrolebinding", f"down-{tag}",
                                 "--clusterrole=view", "--user=someone")
    try:
        wait_until(lambda: len(json.loads(gw.reviewer_cli("approvals", "--pending", "-o", "json").stdout)["items"]) == 1,
                   what="a pending approval")
        shell_lib("pg_stop", own_postgres)
        code = held.wait(timeout=20)  # kubectl must not wait on with PostgreSQL gone
        assert code != 0, "the held request went through with PostgreSQL gone"
        assert "the approval store is unavailable; the request was not forwarded" in held.output()
    finally:
        held.stop()
    assert kubectl(standin.kubeconfig, "get", "clusterrolebinding", f"down-{tag}", check=False).returncode != 0, \
        "the held request reached the cluster"
