"""The reviewer UI in a real browser (playwright-core driving Debian's chromium, headless, over
the gateway's real TLS): a reviewer approves a held kubectl from the queue, and a request full of
markup shows as text with no script run. Screenshots land in the build tree (SLUICE_SCREENSHOTS_DIR)."""
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import uuid

import pytest

from conftest import kubectl, npm_package_dir
from harness import Database, kubectl_in_background, wait_until

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="session")
def browser_dir():
    return npm_package_dir("SLUICE_BROWSER_DIR", os.path.join(HERE, "browser"),
                           ["package.json", "package-lock.json", "ui_flow.mjs"], "node_modules/playwright-core/package.json")


@pytest.fixture(scope="session")
def shots():
    path = os.environ.get("SLUICE_SCREENSHOTS_DIR") or pytest.fail("SLUICE_SCREENSHOTS_DIR is not set: run through ctest")
    os.makedirs(path, exist_ok=True)
    for old in os.listdir(path):  # this run's pictures only
        if old.endswith(".png"):
            os.remove(os.path.join(path, old))
    return path


def _spki(cert_file):
    """base64 SHA-256 of the certificate's public key: what chromium is told to trust."""
    pem = subprocess.run(["openssl", "x509", "-in", cert_file, "-pubkey", "-noout"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pem, capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _visit(browser_dir, scenario, gw, when_ready=None, idp=None, **args):
    """Runs ui_flow.mjs; `when_ready` runs when the page prints {"ready": true}. With `idp` the
    browser also trusts that issuer's serving key."""
    chromium = shutil.which("chromium") or pytest.fail("Debian's chromium is not installed (scripts/lib/deps.sh)")
    trusted = [_spki(os.path.join(gw.dir, "certs", "tls.crt"))] + ([_spki(idp.cert)] if idp else [])
    args.update(chromium=chromium, base=f"https://127.0.0.1:{gw.port}", spki=",".join(trusted))
    node = subprocess.Popen(["node", os.path.join(browser_dir, "ui_flow.mjs"), scenario, json.dumps(args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in node.stdout:
            lines.append(line)
            if when_ready and json.loads(line).get("ready"):
                when_ready()
        node.wait(timeout=120)
    finally:
        node.kill()
    seen = json.loads(lines[-1]) if lines else {}
    assert node.returncode == 0, f"the browser's {scenario} visit failed: {seen.get('error')}\n" \
        f"console: {seen.get('consoleErrors')} {seen.get('pageErrors')} {seen.get('console')}\n" \
        f"answers >= 400: {seen.get('failedUrls')}\n{node.stderr.read()[-2000:]}"
    return seen


def _errors(seen):
    """Console errors, less the 401 of the page asking whether it is logged in yet."""
    return [e for e in seen["consoleErrors"] if "status of 401" not in e] + seen["pageErrors"]


def test_a_reviewer_approves_a_held_request_in_the_browser(own_gateway, standin, browser_dir, shots, tmp_path, idp):
    cluster, tag = f"uib{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, """rules:
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    message: cluster-wide RBAC needs a reviewer
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
""", auth_config=idp.ui_auth_config())
    held = []

    def hold():  # once the reviewer's queue is open
        held.append(kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "create", "clusterrolebinding",
                                          f"uib-{tag}", "--clusterrole=view", "--user=someone"))
    try:
        seen = _visit(browser_dir, "approve", gw, when_ready=hold, idp=idp, provider="Test IdP", cluster=cluster,
                      reason="checked in the browser", shots=shots, filterAfter=True)
        assert seen["steps"] == ["logged in as oidc:ann@example.com", "approved", "found executed"], seen
        assert seen["urlAfterLogin"] == f"https://127.0.0.1:{gw.port}/ui/", seen
        assert seen["filteredUrl"].endswith(f"/ui/?state=executed&cluster={cluster}"), seen["filteredUrl"]
        assert seen["diffAdded"] > 5, "the dry-run diff has no added lines marked"
        assert seen["diffAddedColour"] == "rgb(26, 127, 55)", "added lines are not coloured"
        assert seen["reloadsBeforeRow"] == 0, "the queue was reloaded to show the held request"
        held = held[0]
        assert "cluster-rbac: cluster-wide RBAC needs a reviewer" in seen["approvalText"]
        assert "The client's words (unverified): kubectl create clusterrolebinding" in seen["approvalText"]
        assert "automation-bot (static-token; groups ci, bots) on " + cluster + ", from 127.0.0.1 with kubectl/v1." \
            in seen["approvalText"], seen["approvalText"]
        assert not seen["dialogs"] and not _errors(seen), seen
        assert held.wait() == 0, f"kubectl failed after the browser's approval: {held.output()}"
        assert f"clusterrolebinding.rbac.authorization.k8s.io/uib-{tag} created" in held.output()
        for name in ("login", "queue", "approval", "after", "filtered"):
            assert os.path.getsize(os.path.join(shots, f"approve-{name}.png")) > 1000
    finally:
        for h in held if isinstance(held, list) else [held]:
            h.stop()
        kubectl(standin.kubeconfig, "delete", "clusterrolebinding", f"uib-{tag}", check=False)


def test_markup_in_a_request_shows_as_text_and_runs_nothing(own_gateway, browser_dir, shots, tmp_path):
    cluster = f"uix{uuid.uuid4().hex[:6]}"
    gw = own_gateway(cluster, """rules:
  - name: held-configmaps
    match: {verbs: [create], resources: [configmaps], namespaces: [ui-xss]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
""")
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "markup", "namespace": "ui-xss",
                                        "annotations": {"note": '"><img src=x onerror=alert(2)>'}},
                           "data": {"page": "<script>alert(1)</script>", "svg": "<svg onload=alert(3)>"}})
    (tmp_path / "cm.json").write_text(manifest)
    held = kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "create", "-f", str(tmp_path / "cm.json"))
    try:
        approval = wait_until(lambda: gw.pending_approval(cluster), what="the held ConfigMap")
        seen = _visit(browser_dir, "inspect", gw, token=gw.reviewer_token, id=approval, shots=shots, label="markup")
        text = seen["approvalText"]
        assert "The manifest (masked)" in text and "kind: ConfigMap" in text and "  namespace: ui-xss" in text, text
        for markup in ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "<svg onload=alert(3)>"):
            assert markup.replace('"', '\\"') in text or markup in text, f"{markup} is not shown as text: {text}"
        assert seen["dialogs"] == [], f"a script from the request ran: {seen['dialogs']}"
        assert seen["images"] == 0 and seen["scripts"] == 1, seen
        assert not _errors(seen), seen
        # a reject with a reason, given in the browser, reaches kubectl
        seen = _visit(browser_dir, "approve", gw, token=gw.reviewer_token, cluster=cluster, decision="reject",
                      reason="markup is not welcome here", shots=shots, label="reject")
        assert seen["steps"] == ["logged in as alice-reviewer", "rejected"], seen
        assert held.wait() != 0
        assert "markup is not welcome here" in held.output(), held.output()
    finally:
        held.stop()


def test_a_two_person_rule_needs_two_browsers_and_the_requester_sees_why_not(own_gateway, standin, browser_dir, shots,
                                                                              tmp_path):
    cluster, tag = f"ui2{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    bob = secrets.token_hex(24)
    gw = own_gateway(cluster, """rules:
  - name: two-people
    match: {verbs: [create], resources: [clusterroles]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, minApprovals: 2, timeout: 10m}
""", extra_tokens=f'{bob},bob-reviewer,uid-bob,"sluice-reviewers"\n')
    held = kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "create", "clusterrole", f"ui2-{tag}", "--verb=get",
                                 "--resource=pods")
    try:
        approval = wait_until(lambda: gw.pending_approval(cluster), what="the held ClusterRole")
        # the requester, logged in, sees its request with the buttons disabled and why
        seen = _visit(browser_dir, "inspect", gw, token=gw.bot_token, id=approval, shots=shots, label="own-request",
                      forgeCsrf=True)
        assert seen["approveDisabled"] and seen["rejectDisabled"], seen
        assert seen["why"] == "You requested this: someone else decides.", seen
        assert seen["forged"] == {"status": 403, "message": "the request's CSRF token is missing or wrong: reload the page"}
        # one reviewer's vote is one of two
        seen = _visit(browser_dir, "approve", gw, token=gw.reviewer_token, cluster=cluster, reason="first", shots=shots,
                      label="first-vote")
        assert seen["steps"][-1] == "approved", seen
        assert held.still_running_after(1), f"one vote of two let the request go: {held.output()}"
        seen = _visit(browser_dir, "inspect", gw, token=gw.reviewer_token, id=approval, shots=shots, label="after-first-vote")
        assert seen["approveDisabled"] and seen["why"] == "Already approved by you, 1 of 2.", seen
        # the second browser decides it
        seen = _visit(browser_dir, "approve", gw, token=bob, cluster=cluster, reason="second", shots=shots, label="second-vote")
        assert seen["steps"] == ["logged in as bob-reviewer", "approved"], seen
        assert held.wait() == 0, f"kubectl failed after two approvals: {held.output()}"
    finally:
        held.stop()
        kubectl(standin.kubeconfig, "delete", "clusterrole", f"ui2-{tag}", check=False)


def test_a_namespace_deletion_shows_what_goes_with_it(own_gateway, standin, browser_dir, shots, tmp_path):
    cluster, tag = f"uin{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    ns = f"uin-{tag}"
    gw = own_gateway(cluster, """rules:
  - name: namespace-deletion
    match: {verbs: [delete], resources: [namespaces]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
""")
    kubectl(standin.kubeconfig, "create", "ns", ns)
    for name in ("one", "two"):
        kubectl(standin.kubeconfig, "create", "cm", f"{name}-{tag}", "-n", ns)
    held = kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "delete", "ns", ns)
    try:
        approval = wait_until(lambda: gw.pending_approval(cluster), what="the held namespace deletion")
        seen = _visit(browser_dir, "inspect", gw, token=gw.reviewer_token, id=approval, shots=shots, label="namespace-delete")
        text = seen["approvalText"]
        assert text.startswith(f"delete namespaces {ns}"), text
        assert "It would delete 2 objects" in text and f"configmaps: 2 (one-{tag}, two-{tag})" in text, text
        assert not _errors(seen), seen
        gw.reviewer_cli("reject", approval, "--reason", "keep it")
        assert held.wait() != 0
    finally:
        held.stop()
        kubectl(standin.kubeconfig, "delete", "ns", ns, "--wait=false", check=False)


def test_a_recorded_exec_reads_back_in_the_sessions_pages(own_gateway, standin, browser_dir, shots):
    cluster, tag = f"uis{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, "defaultAction: allow\n")
    pod = f"box-{tag}"
    kubectl(gw.kubeconfig, "run", pod, "-n", "default", "--image=busybox", "--", "sleep", "3600")
    try:
        out = kubectl(gw.kubeconfig, "exec", pod, "-n", "default", "--", "sh", "-c", f"echo recorded-{tag}").stdout
        assert out == f"recorded-{tag}\n"
        wait_until(lambda: any(x["kubectlCommand"] == "kubectl exec" and x["execSessions"] >= 1 for x in json.loads(
            gw.request("GET", f"/api/v1/sessions?cluster={cluster}", token=gw.reviewer_token).body)["items"]),
            what="the exec's recording")
        seen = _visit(browser_dir, "sessions", gw, token=gw.reviewer_token, cluster=cluster, command="kubectl exec",
                      expect=f"recorded-{tag}", shots=shots, label="sessions")
        assert seen["played"], seen
        assert any(f"recorded-{tag}" in t for t in seen["transcript"]), seen
        assert f"/pods/{pod}/exec?command=sh" in seen["sessionText"] and "→ 101" in seen["sessionText"]
        assert not _errors(seen), seen
    finally:
        kubectl(standin.kubeconfig, "delete", "pod", pod, "-n", "default", "--wait=false", check=False)


def test_an_audit_search_pages_exports_and_verifies_in_the_browser(own_gateway, fresh_database, browser_dir, shots):
    cluster = f"uia{uuid.uuid4().hex[:6]}"
    gw = own_gateway(cluster, "defaultAction: allow\n", database_url=fresh_database)
    for _ in range(3):
        kubectl(gw.kubeconfig, "get", "configmaps", "-n", "default", "-o", "name")
    trail = Database(fresh_database)
    try:
        wait_until(lambda: trail.value("SELECT count(*) FROM audit_log WHERE response_code IS NULL") == 0
                   and trail.value("SELECT count(*) FROM audit_log WHERE verb = 'list'") >= 3, what="the outcomes written")
        # more rows than one page of the UI (100): copies outside any chain
        trail.add_unchained_audit_rows(cluster, 150)
        total = trail.value("SELECT count(*) FROM audit_log WHERE cluster = %s", cluster)
        seen = _visit(browser_dir, "audit", gw, token=gw.reviewer_token, path=f"/ui/audit?cluster={cluster}&since=1h",
                      verb="list", shots=shots, label="audit")
        assert seen["rowsFirst"] == 100 and seen["rowsAll"] == total, seen
        assert "automation-bot" in seen["auditText"] and "kubectl get" in seen["auditText"]
        assert seen["verify"].startswith("Audit chain intact:") and "150 older rows carry no chain" in seen["verify"], seen
        assert seen["exportHref"] == "/ui/api/audit/export?since=1h"
        assert seen["exportLines"] == trail.value("SELECT count(*) FROM audit_log"), seen
        assert seen["filteredUrl"].endswith(f"/ui/audit?cluster={cluster}&verb=list&since=1h"), seen
        assert seen["rowsFiltered"] == trail.value("SELECT count(*) FROM audit_log WHERE cluster = %s AND verb = 'list'",
                                                   cluster) >= 3, seen
        assert not _errors(seen), seen
    finally:
        trail.close()
