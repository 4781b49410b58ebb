"""The policy in the data path with the real kubectl, and the attack corpus: every request an
adversarial agent may send, with what must come of it."""
import http.client
import json
import os
import ssl
import subprocess
import uuid

from conftest import kubectl
from harness import ROOT, Database, H2Client, approval_id, wait_until

POLICY = """apiVersion: sluice.dev/v1
kind: Policy
rules:
  - name: protected-configmaps
    match: {verbs: [delete], resources: [configmaps], names: ["protected-*"]}
    action: deny
    message: protected configmaps are not deleted through automation
  - name: admin-bindings
    match: {verbs: [create, update, patch], resources: [rolebindings]}
    when: {grantsRole: [admin, cluster-admin]}
    action: deny
    message: nobody binds admin here
  - name: exec-privileged
    match: {verbs: [create], resources: [pods/exec, pods/attach]}
    when: {privileged: true}
    action: approve
    message: exec into a privileged pod needs a reviewer
    approval: {approvers: {users: [reviewer]}, timeout: 2s}
"""


def test_deny_rules_conditions_holds_and_a_hot_reload(own_gateway, standin, db):
    # A deny rule with its message, a condition on the request body (a RoleBinding to admin), a
    # condition on the live pod of an exec (privileged or not), an exec held for approval that nobody
    # gives, the audit row of a refusal, and a hot reload (a broken file keeps the policy in force).
    cluster, tag = f"pol{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, POLICY)

    def k(*args, **kw):
        return kubectl(gw.kubeconfig, "-n", "default", *args, **kw)

    def direct(*args, **kw):
        return kubectl(standin.kubeconfig, "-n", "default", *args, **kw)
    try:
        k("create", "cm", f"protected-{tag}")
        seq = standin.seq()
        out = k("delete", "cm", f"protected-{tag}", check=False)
        assert out.returncode != 0, "the deny rule let the delete through"
        assert ("protected configmaps are not deleted through automation (Sluice policy rule 'protected-configmaps')"
                in out.stderr)
        assert not [x for x in standin.requests_since(seq)["items"] if f"protected-{tag}" in json.dumps(x)], \
            "the denied delete reached the cluster"
        assert direct("get", "cm", f"protected-{tag}", check=False).returncode == 0, "the protected configmap is gone"
        k("create", "cm", f"plain-{tag}")
        assert k("delete", "cm", f"plain-{tag}", check=False).returncode == 0, "a delete no rule names was refused"

        out = k("create", "rolebinding", f"admins-{tag}", "--clusterrole=admin", "--user=someone", check=False)
        assert out.returncode != 0, "a RoleBinding to admin was created"
        assert "nobody binds admin here" in out.stderr
        assert k("create", "rolebinding", f"viewers-{tag}", "--clusterrole=view", "--user=someone",
                 check=False).returncode == 0, "a RoleBinding to view was refused"

        k("apply", "-f", "-", stdin=f"""apiVersion: v1
kind: Pod
metadata: {{name: priv-{tag}}}
spec:
  containers: [{{name: c, image: busybox, command: [sleep, "3600"], securityContext: {{privileged: true}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: plain-{tag}}}
spec:
  containers: [{{name: c, image: busybox, command: [sleep, "3600"]}}]
""")
        out = k("exec", f"plain-{tag}", "--", "sh", "-c", "echo exec-ok", check=False)
        assert out.returncode == 0, f"exec into a plain pod was refused: {out.stderr}"
        assert out.stdout == "exec-ok\n", f"exec into the plain pod printed: {out.stdout}"
        seq = standin.seq()
        out = k("exec", f"priv-{tag}", "--", "sh", "-c", "echo should-not-run", check=False)
        assert out.returncode != 0, f"exec into a privileged pod ran: {out.stdout}"
        assert "approval timed out after 2s" in out.stderr  # held for a reviewer who never came
        log = standin.requests_since(seq)["items"]
        assert not [x for x in log if f"priv-{tag}/exec" in x["uri"]], "the exec into the privileged pod reached the cluster"
        reads = [x for x in log if x["uri"].split("?")[0].endswith(f"/pods/priv-{tag}")]
        assert reads, f"the gateway did not read the live pod: {log}"
        assert reads[0]["method"] == "GET" and reads[0]["impersonate"].get("user") == "automation-bot", \
            f"the live pod was not read with GET as the requester: {reads[0]}"

        wait_until(lambda: db.value("""SELECT count(*) FROM audit_log WHERE name = %s AND verb = 'delete' AND decision = 'denied'
                                       AND response_code = 403 AND decision_reason LIKE '%%protected-configmaps%%'""",
                                    f"protected-{tag}") == 1, timeout=10, what="a denied audit row for the protected delete")

        # Hot reload: the deny rule goes; a broken file afterwards changes nothing.
        policy_file = os.path.join(gw.dir, "policy.yaml")
        with open(policy_file, "w") as f:
            f.write(POLICY.replace('names: ["protected-*"]', 'names: ["guarded-*"]'))
        wait_until(lambda: "policy: reloaded 3 rules" in gw.log(), timeout=10, what="the changed policy reloaded")
        with open(policy_file, "w") as f:
            f.write("rules:\n  - name: x\n    match: {verb: [get]}\n    action: deny\n")
        wait_until(lambda: "policy.yaml:3:13: unknown key 'verb' in match" in gw.log(), timeout=10,
                   what="the broken policy reported with its place")
        assert k("get", "cm", "-o", "name", check=False).returncode == 0, "the broken policy file changed the policy in force"
        assert k("delete", "cm", f"protected-{tag}", check=False).returncode == 0, \
            "the reloaded policy (no deny for protected-*) is not in force"
    finally:
        direct("delete", "cm", f"protected-{tag}", check=False)
        direct("delete", "rolebinding", f"viewers-{tag}", check=False)
        direct("delete", "pod", f"priv-{tag}", f"plain-{tag}", "--wait=false", check=False)


def _send(gw, row, path):
    """The row's request as curl --path-as-is sends it: the path byte for byte, curl's default headers."""
    conn = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ssl.create_default_context(cafile=gw.ca), timeout=60)
    headers = {"Authorization": f"Bearer {gw.bot_token}", "Accept": "*/*"}
    headers.update(row.get("headers") or {})
    body = row["body"].encode() if "body" in row else None
    if body is not None and not any(h.lower() == "content-type" for h in headers):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(row["method"], path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


# HTTP/1.1's connection-specific fields: malformed in HTTP/2 (RFC 9113 8.2.2), where nghttp2 resets the stream.
_CONNECTION_SPECIFIC = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


def _send_h2(client, row, path):
    """The same request as one stream of an h2 connection: the code and body, or None when the
    gateway reset the stream (a request HTTP/2 calls malformed)."""
    headers = [("accept", "*/*")] + [(k.lower(), v) for k, v in (row.get("headers") or {}).items() if k.lower() != "host"]
    body = row["body"].encode() if "body" in row else None
    if body is not None and not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/x-www-form-urlencoded"))
    sid = client.request(row["method"], path, body=body, headers=headers)
    s = client.streams[sid]
    client.pump(lambda: s["ended"] or s["reset"] is not None or client.closed, timeout=60, what=row["name"])
    if s["status"] is None:
        return None, ""
    return s["status"], bytes(s["data"]).decode("utf-8", "replace")


def test_the_attack_corpus(own_gateway, fresh_database, standin, tmp_path):
    # tests/security/attack_corpus.jsonl: each row a request the bot may send and what must come of
    # it, against the default policy (approvals asked asynchronously, so "held" is a 403 at once).
    # Every held row waits at once: more than the default cap of pending approvals per identity, and
    # on a database of its own, since the cap counts the bot's approvals across all the gateways.
    with open(os.path.join(ROOT, "gateway", "policy", "default-policy.yaml")) as f:
        policy = f.read().replace("mode: hold", "mode: async")
    gw = own_gateway("corpus", policy, extra_config="approvals:\n  max_pending_per_identity: 200\n",
                     database_url=fresh_database)
    direct = standin.kubeconfig
    kubectl(direct, "-n", "default", "create", "secret", "generic", "corpus-s1", "--from-literal=password=hunter2", check=False)
    # a live hostIPC pod for the exec row (the policy reads it before deciding)
    kubectl(direct, "-n", "default", "apply", "-f", "-", stdin='{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "corpus-ipc"},'
            ' "spec": {"hostIPC": true, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}')
    # a plain Deployment for the patch rows (every patch type is judged on its dry-run result)
    deployment = kubectl(direct, "-n", "default", "create", "deployment", "corpus-deploy", "--image=busybox", "--dry-run=client",
                         "-o", "yaml").stdout
    kubectl(direct, "apply", "-f", "-", stdin=deployment)
    try:
        rows = [json.loads(line) for line in open(os.path.join(ROOT, "tests", "security", "attack_corpus.jsonl")) if line.strip()]
        # Every row over HTTP/1.1, then again as a stream of one h2 connection (what client-go speaks).
        h2 = None
        for row, over_h2 in [(r, False) for r in rows] + [(r, True) for r in rows]:
            name, method, path, code = row["name"], row["method"], row["path"], row["expect"]["code"]
            query = row.get("query")
            seq = standin.seq()
            target = f"/clusters/corpus{path}" + (f"?{query}" if query else "")
            if over_h2:
                if h2 is None or h2.closed:
                    h2 = H2Client(gw, validate=False)
                got, body = _send_h2(h2, row, target)
                name += " (h2)"
                if got is None:  # reset, as HTTP/2 requires for a malformed request; it reached nobody
                    assert any(k.lower() in _CONNECTION_SPECIFIC for k in (row.get("headers") or {})), \
                        f"attack corpus: '{name}' was reset, and it is no malformed HTTP/2 request"
                    h2 = None
                    reached = [x["uri"] for x in standin.requests_since(seq)["items"] if path in x.get("uri", "")]
                    assert not reached, f"attack corpus: '{name}' was reset but reached the cluster"
                    continue
            else:
                got, body = _send(gw, row, target)
            assert got == code, f"attack corpus: '{name}' answered {got}, expected {code}: {body}"
            if row["expect"].get("contains"):
                assert row["expect"]["contains"] in body, f"'{name}': {body}"
            assert "hunter2" not in body and "aHVudGVyMg==" not in body, f"attack corpus: '{name}' answered with the Secret value"
            log = standin.requests_since(seq)["items"]
            if row["expect"].get("upstream_user"):
                users = sorted({x.get("impersonate", {}).get("user") for x in log if x.get("uri", "").startswith(path)})
                assert users == [row["expect"]["upstream_user"]], \
                    f"attack corpus: '{name}' reached the cluster as {users}, not '{row['expect']['upstream_user']}'"
            elif code not in (200, 201) and not row["expect"].get("reached"):
                # refused before policy: the request itself never reached the cluster (dry runs may have)
                reached = [x["uri"] for x in log if x.get("method") == method and "dryRun=All" not in x["uri"] and path in x["uri"]]
                assert not reached, f"attack corpus: '{name}' was refused with {got} but reached the cluster"
        assert len(rows) >= 58, f"the attack corpus ran only {len(rows)} rows"
        if h2:
            h2.close()

        # TokenRequest: held; once approved the cluster issues the token, and neither the client nor the
        # recording sees it
        jwt_head = "eyJhbGciOiJSUzI1NiIsImtpZCI6InN0YW5kaW4ifQ"  # the stand-in's tokens all begin so
        issued = kubectl(direct, "-n", "default", "create", "token", "default").stdout.strip()
        assert issued.startswith(jwt_head + "."), f"the stand-in issued no token: {issued}"
        out = kubectl(gw.kubeconfig, "-n", "default", "create", "token", "default", check=False)
        assert out.returncode != 0, f"a TokenRequest passed unheld: {out.stdout}"
        held = approval_id(out.stderr)
        assert held, f"no approval for the TokenRequest: {out.stderr}"
        gw.reviewer_cli("approve", held, "--reason", "corpus")
        out = kubectl(gw.kubeconfig, "-n", "default", "create", "token", "default", check=False)
        assert out.returncode == 0, f"the approved TokenRequest: {out.stderr}"
        assert out.stdout.strip() == "***MASKED***", f"the issued token reached the client: {out.stdout}"
        trail = Database(fresh_database)
        try:
            wait_until(lambda: trail.value("""SELECT count(*) FROM recording_exchanges e JOIN recording_sessions s ON s.id = e.session_id
                                              WHERE s.cluster = 'corpus' AND e.request_uri LIKE '%%/serviceaccounts/default/token%%'
                                              AND e.finished_at IS NOT NULL AND e.response_code = 201""") >= 1,
                       timeout=10, what="the approved TokenRequest recorded")
            for (sid,) in trail.rows("""SELECT DISTINCT e.session_id FROM recording_exchanges e JOIN recording_sessions s
                                        ON s.id = e.session_id WHERE s.cluster = 'corpus' AND e.request_uri LIKE '%%/token%%'"""):
                rec = subprocess.run([gw.bin, "sessions", "show", str(sid), "--database", fresh_database, "-o", "json"],
                                     capture_output=True, text=True, check=True).stdout
                assert jwt_head not in rec, f"the recording holds the issued token: {rec}"
            # the copy never happened: the Secret's annotations hold no value, and a read comes back masked
            out = kubectl(gw.kubeconfig, "-n", "default", "get", "secret", "corpus-s1", "-o", "json").stdout
            assert "hunter2" not in out and "aHVudGVyMg==" not in out, f"the Secret's value came back: {out}"
            # the gateway's own dry runs have audit rows of their own, linked to the client's row
            wait_until(lambda: trail.value("""SELECT count(*) FROM audit_events c JOIN audit_events p ON c.parent_id = p.id
                                              WHERE c.decision = 'gateway' AND c.dry_run AND p.cluster = 'corpus'
                                              AND p.verb = 'create' AND p.resource = 'rolebindings'""") >= 1,
                       timeout=10, what="the policy dry run's linked audit row")
        finally:
            trail.close()
        verify = subprocess.run([gw.bin, "audit", "verify", "--database", fresh_database], capture_output=True, text=True)
        assert verify.returncode == 0, f"the audit chain does not verify with gateway rows in it: {verify.stdout}{verify.stderr}"
    finally:
        kubectl(direct, "-n", "default", "delete", "pod", "corpus-ipc", "--wait=false", check=False)
        kubectl(direct, "-n", "default", "delete", "deployment", "corpus-deploy", "--wait=false", check=False)
