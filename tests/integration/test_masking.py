"""Secret values never reach the client, the logs, the recordings or the audit export; the cluster
keeps the real values and a masked one is never written back; detectors mask keys in exec output
and logs."""
import base64
import gzip
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import MASKED_B64, kubectl
from harness import ROOT, Gateway, approval_id, read, shell_lib, wait_until


class Values:
    """The test's secret values; `absent(text, what)` fails when any of them is in `text`."""

    def __init__(self, n):
        self.values = [f"val{i}{secrets.token_hex(9)}" for i in range(1, n + 1)]
        self.key_body = None

    def __getitem__(self, i):
        return self.values[i]

    def absent(self, text, what):
        for v in self.values:
            assert v not in text, f"{what} shows a Secret value ({v}):\n{text}"
        if self.key_body:
            assert self.key_body not in text, f"{what} shows the private key:\n{text}"


def _b64(s):
    return base64.b64encode(s.encode()).decode()


def _real(standin_kubeconfig, ns, name, key):
    out = kubectl(standin_kubeconfig, "-n", ns, "get", "secret", name, "-o", "jsonpath={.data." + key + "}").stdout
    return base64.b64decode(out).decode()


@pytest.fixture
def mask_namespace(kubeconfig, standin_kubeconfig):
    ns = f"mask-{uuid.uuid4().hex[:10]}"
    kubectl(kubeconfig, "create", "ns", ns)
    yield ns
    kubectl(standin_kubeconfig, "delete", "ns", ns, "--wait=false", check=False)


def test_no_secret_value_reaches_the_client_the_log_or_the_audit(gateway, kubeconfig, standin, standin_kubeconfig,
                                                                 mask_namespace, db, tmp_path):
    # get, list, watch, describe, Tables, create, apply and patch; the cluster still stores the real
    # values; a masked value is never written back; the gateway asks for JSON; regex detectors mask
    # a private key and an AWS key in exec output (also from stdin) and in pod logs.
    ns, vals = mask_namespace, Values(6)

    def k(*args, **kw):
        return kubectl(kubeconfig, "-n", ns, *args, **kw)

    out = k("create", "secret", "generic", "db", f"--from-literal=password={vals[0]}", f"--from-literal=token={vals[1]}",
            "-o", "json").stdout
    vals.absent(out, "create -o json")
    assert json.loads(out)["data"]["password"] == MASKED_B64, f"create's answer is not masked: {out}"
    assert _real(standin_kubeconfig, ns, "db", "password") == vals[0], "the cluster does not hold the real value"
    manifest = (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: applied}}\nstringData: {{api-key: {vals[2]}}}\n"
                f"data: {{cert: {_b64(vals[3])}}}\n")
    assert "secret/applied created" in k("apply", "-f", "-", stdin=manifest).stdout
    # apply again: a 3-way merge against the masked object
    assert "secret/applied configured" in k("apply", "-f", "-", stdin=manifest.replace(vals[2], vals[4])).stdout
    assert _real(standin_kubeconfig, ns, "applied", "api-key") == vals[4], "apply through the gateway did not store the new value"
    assert _real(standin_kubeconfig, ns, "applied", "cert") == vals[3], "apply through the gateway changed a value it did not touch"
    assert vals[4] in kubectl(standin_kubeconfig, "-n", ns, "get", "secret", "applied", "-o", "yaml").stdout, \
        "the stand-in's last-applied annotation"
    for args in ("get secret db -o yaml", "get secret db -o json", "get secrets -o json", "get secrets -o yaml",
                 "get secret applied -o yaml", "get secrets", "get secrets -o wide", "describe secret db", "describe secrets"):
        out = k(*args.split())
        vals.absent(out.stdout + out.stderr, f"kubectl {args}")
    out = k("get", "secret", "applied", "-o", "yaml").stdout
    assert f"cert: {MASKED_B64}" in out and f"api-key: {MASKED_B64}" in out
    assert "last-applied-configuration: |" in out  # the annotation stays, masked
    out = k("describe", "secret", "db").stdout
    assert "password:  12 bytes" in out and "token:     12 bytes" in out
    r = gateway.request("GET", f"/clusters/c1/api/v1/namespaces/{ns}/secrets?includeObject=Object", token=gateway.bot_token,
                        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    vals.absent(r.body, "a Table with objects")
    assert '"kind":"Table"' in r.body and MASKED_B64 in r.body

    # watch: JSON events and kubectl's Table events, while a patch changes a value
    watch_json, watch_table = tmp_path / "watch.json", tmp_path / "watch.table"
    with open(watch_json, "w") as wj, open(watch_table, "w") as wt:
        watchers = [subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "-n", ns, "get", "secrets", "-w", "-o", "json"],
                                     stdout=wj, stderr=subprocess.STDOUT),
                    subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "-n", ns, "get", "secrets", "-w"],
                                     stdout=wt, stderr=subprocess.STDOUT)]
    try:
        wait_until(lambda: '"name": "db"' in read(watch_json), timeout=10, what="the watch starting")
        wait_until(lambda: "db" in read(watch_table), timeout=10, what="the table watch starting")
        out = k("patch", "secret", "db", "-p", json.dumps({"stringData": {"extra": vals[5]}}), "-o", "json").stdout
        vals.absent(out, "patch -o json")
        assert json.loads(out)["data"]["extra"] == MASKED_B64, f"patch: {out}"
        wait_until(lambda: '"extra"' in read(watch_json), timeout=10, what="the watch seeing the patch")
    finally:
        for w in watchers:
            w.terminate()
            w.wait()
    vals.absent(read(watch_json), "watch -o json")
    vals.absent(read(watch_table), "watch")
    assert "db" in read(watch_table)

    # what reached the cluster: plain JSON, nothing compressed (configmaps are left as asked)
    mark = f"m{uuid.uuid4().hex[:8]}"
    gateway.request("GET", f"/clusters/c1/api/v1/namespaces/{ns}/secrets?labelSelector=mark%3D{mark}", token=gateway.bot_token,
                    headers={"Accept": "application/vnd.kubernetes.protobuf, application/json", "Accept-Encoding": "gzip"})
    gateway.request("GET", f"/clusters/c1/api/v1/namespaces/{ns}/configmaps?labelSelector=mark%3D{mark}", token=gateway.bot_token,
                    headers={"Accept": "application/vnd.kubernetes.protobuf, application/json"})
    seen = [[x["uri"], x["accept"], x["acceptEncoding"]] for x in standin.requests_since(0)["items"] if mark in x.get("uri", "")]
    assert [f"/api/v1/namespaces/{ns}/secrets?labelSelector=mark%3D{mark}", "application/json", ""] in seen, seen
    assert any(u.endswith(f"configmaps?labelSelector=mark%3D{mark}") and a == "application/vnd.kubernetes.protobuf, application/json"
               for u, a, _ in seen), seen

    # a masked value is never written back
    masked = k("get", "secret", "db", "-o", "json").stdout
    out = kubectl(kubeconfig, "replace", "-f", "-", stdin=masked, check=False)
    assert out.returncode != 0, f"a masked Secret was written back: {out.stdout}"
    assert "in place of a real value" in out.stderr
    assert _real(standin_kubeconfig, ns, "db", "password") == vals[0], "the real value was overwritten"

    # detectors: exec output (a file, and stdin echoed back) and pod logs
    key_pem = tmp_path / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key_pem)],
                   check=True, capture_output=True)
    vals.key_body = key_pem.read_text().splitlines()[1]
    aws = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    k("run", "box", "--image=busybox", "--", "sleep", "3600")
    creds = os.path.join(standin.dir, "runtime", "pods", ns, "box", "creds.txt")
    with open(creds, "w") as f:
        f.write(key_pem.read_text() + f"aws_access_key_id = {aws}\n")
    out = k("exec", "box", "--", "cat", "creds.txt").stdout
    vals.absent(out, "exec cat")
    assert "-----BEGIN PRIVATE KEY-----***MASKED***-----END PRIVATE KEY-----" in out
    assert aws not in out, f"exec shows the AWS key id: {out}"
    out = k("exec", "-i", "box", "--", "cat", stdin=key_pem.read_text()).stdout
    vals.absent(out, "exec -i cat")
    assert "***MASKED***" in out
    out = k("exec", "box", "--", "sh", "-c", "echo plain output; exit 4", check=False)
    assert out.returncode != 0, "exit code lost"
    assert "plain output" in out.stdout
    kubectl(standin_kubeconfig, "-n", ns, "run", "logger", "--image=busybox", "--restart=Never", "--",
            "sh", "-c", "while [ ! -f creds.txt ]; do sleep 0.1; done; cat creds.txt; echo logged-all")
    logger_dir = os.path.join(standin.dir, "runtime", "pods", ns, "logger")
    wait_until(lambda: os.path.isdir(logger_dir), timeout=10, what="the logger pod's directory")
    with open(os.path.join(logger_dir, "creds.txt"), "w") as f:
        f.write(read(creds))
    wait_until(lambda: "logged-all" in kubectl(standin_kubeconfig, "-n", ns, "logs", "logger", check=False).stdout,
               timeout=10, what="the logger logging")
    out = k("logs", "logger").stdout
    vals.absent(out, "logs")
    assert "logged-all" in out and aws not in out, "logs show the AWS key id"
    out = k("logs", "-f", "logger").stdout
    vals.absent(out, "logs -f")
    assert "***MASKED***" in out

    # nothing in the recordings, the gateway's log or the audit export
    like = f"%/namespaces/{ns}/%"
    wait_until(lambda: db.value("SELECT count(*) FROM recording_exchanges WHERE request_uri LIKE %s AND finished_at IS NULL",
                                like) == 0, timeout=10, what="the recordings finishing")
    sessions = [r[0] for r in db.rows("SELECT DISTINCT session_id FROM recording_exchanges WHERE request_uri LIKE %s",
                                      like)]
    for sid in sessions:
        shown = subprocess.run([gateway.bin, "sessions", "show", str(sid), "--database", gateway.database_url, "-o", "json"],
                               capture_output=True, text=True, check=True).stdout
        vals.absent(shown, f"the recording of session {sid}")
    recorded = db.value("SELECT count(*) FROM recording_exchanges WHERE request_uri LIKE %s", like)
    assert recorded >= 20, "the test's exchanges were not recorded"
    vals.absent(gateway.log(), "the gateway's log")
    vals.absent(gateway.cli("audit", "export", "--since", "10m").stdout, "the audit export")


def test_a_100_mb_secret_list_streams_through_masking_in_bounded_memory(gateway, tmp_path):
    # A list of 20,000 Secrets (about 100 MB) streams through masking in bounded memory: nothing of
    # a value comes out, every item does, and the gateway's peak RSS stays under 96 MB.
    up, cluster = tmp_path / "up", f"big{uuid.uuid4().hex[:6]}"
    www = up / "www"
    www.mkdir(parents=True)
    here = os.path.join(ROOT, "tests", "gateway")
    subprocess.run(["python3", f"{here}/make_lists.py", str(www), "20000"], check=True)
    subprocess.run([gateway.bin, "certs", "--dir", str(up / "certs")], check=True, capture_output=True)
    upstream = subprocess.Popen(["python3", f"{here}/canned_upstream.py", str(www), str(up / "certs/tls.crt"),
                                 str(up / "certs/tls.key"), str(up / "port")])
    gw = Gateway(str(tmp_path / "gw"))
    held = None
    try:
        wait_until(lambda: read(up / "port").strip(), timeout=10, what="the canned upstream starting")
        (up / "kubeconfig").write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: up, cluster: {{server: "https://127.0.0.1:{read(up / 'port').strip()}", certificate-authority: {up}/certs/ca.crt}}}}]
users: [{{name: up, user: {{token: canned}}}}]
contexts: [{{name: up, context: {{cluster: up, user: up}}}}]
current-context: up
""")
        shell_lib("gateway_setup", gw.bin, gw.dir, gateway.database_url)
        gw.start()
        gw.start_agent(cluster, str(up / "kubeconfig"))
        base = f"/clusters/{cluster}"
        pid = int(gw.file("gateway.pid"))
        t0 = time.monotonic()
        r = gw.request("GET", f"{base}/api/v1/secrets", token=gw.bot_token)
        elapsed = time.monotonic() - t0
        assert r.status == 200, f"the secret list: {r.status}"
        hwm = int(re.search(r"^VmHWM:\s+(\d+)", read(f"/proc/{pid}/status"), re.M).group(1))
        assert "c2VjcmV0" not in r.body, "a Secret value came through"
        doc = json.loads(r.body)
        assert len(doc["items"]) == 20000, len(doc["items"])
        assert all(v == MASKED_B64 for s in doc["items"] for v in s["data"].values())
        assert doc["items"][19999]["metadata"]["name"] == "s-19999"
        print(f"secret list: {os.path.getsize(www / 'api/v1/secrets')} bytes in, {len(r.body)} bytes out, {elapsed:.2f} s, "
              f"gateway peak RSS {hwm // 1024} MB")
        assert hwm < 96 * 1024, f"the gateway's peak RSS was {hwm // 1024} MB (limit 96 MB)"

        # an answer about Secrets that the gateway cannot read is refused, never passed on
        odd = www / "api/v1/namespaces/big/secrets"
        odd.mkdir(parents=True)
        (odd / "proto").write_bytes(b"k8s\0\n\x0fv1 Secret c2VjcmV0LXByb3Rv")
        (odd / "proto.headers").write_text('{"Content-Type": "application/vnd.kubernetes.protobuf"}\n')
        (odd / "zipped").write_bytes(gzip.compress(b'{"kind":"Secret","data":{"k":"c2VjcmV0LWd6aXA="}}\n'))
        (odd / "zipped.headers").write_text('{"Content-Encoding": "gzip"}\n')
        for name in ("proto", "zipped"):
            r = gw.request("GET", f"{base}/api/v1/namespaces/big/secrets/{name}", token=gw.bot_token)
            assert r.status == 502 and '"kind":"Status"' in r.body and "cannot check for secrets" in r.body, r
            assert "c2VjcmV0" not in r.body, f"an unreadable answer was passed on: {r}"
        # a pod list needs no masking: passed on as it came, not parsed
        r = gw.request("GET", f"{base}/api/v1/pods", token=gw.bot_token)
        assert r.status == 200 and r.body.encode() == (www / "api/v1/pods").read_bytes(), "the pod list was changed on its way"

        # a held write whose dry runs (policy and preview) get no answer: held with the errors shown, and
        # the gateway keeps serving (a failed preview once ended the gateway with an uncaught exception)
        shutil.copy(os.path.join(ROOT, "gateway", "policy", "default-policy.yaml"), os.path.join(gw.dir, "policy.yaml"))
        with open(gw.config, "a") as f:
            f.write("policy:\n  file: policy.yaml\n")
        gw.restart()
        pid = int(gw.file("gateway.pid"))
        wait_until(lambda: f"agent connected: cluster={cluster}" in gw.log(), what="the agent reconnecting")
        crb = ('{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"lost"},'
               '"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},'
               '"subjects":[{"kind":"User","name":"x"}]}')
        held = subprocess.Popen(["curl", "-sS", "--cacert", gw.ca, "-H", f"Authorization: Bearer {gw.bot_token}", "--max-time", "60",
                                 "-o", "/dev/null", "-H", "Content-Type: application/json", "-X", "POST", "-d", crb,
                                 f"https://127.0.0.1:{gw.port}{base}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"])

        approval = wait_until(lambda: gw.pending_approval(cluster), what="the write with a failing dry run held")
        wait_until(lambda: (gw.approval(approval).get("preview") or {}).get("errors"), timeout=10, what="the preview saying its dry run failed")
        assert os.path.exists(f"/proc/{pid}"), f"the gateway ended after a failed preview: {gw.log()[-2000:]}"
        gw.reviewer_cli("reject", approval, "--reason", "upstream down")
        held.wait(timeout=60)
        assert gw.request("GET", "/healthz").body == "ok", "the gateway stopped serving"
    finally:
        if held:
            held.kill()
        gw.stop()
        upstream.kill()
        upstream.wait()


def test_masking_profiles_and_a_reveal_that_needs_an_approval(own_gateway, standin_kubeconfig, standin):
    # Masking profiles from the policy: a ConfigMap's password keys and a container's env value are
    # masked (others stay), a pattern of our own masks exec output, and a Secret is shown unmasked
    # only through an approved request of a `reveal` rule (once), never otherwise.
    tag = uuid.uuid4().hex[:8]
    cluster, ns = f"mprof{tag}", f"mprof-{tag}"
    gw = own_gateway(cluster, """masking:
  defaultProfile: standard
  profiles:
    - name: standard
      fields:
        - {resource: configmaps, paths: ["data.*password*"]}
        - {resource: pods, paths: ["spec.containers[name=*db*].env[*].value"]}
      patterns:
        - {name: acme-token, regex: "acme_[a-z0-9]{12}"}
rules:
  - name: reveal-secrets
    match: {verbs: [get], resources: [secrets], names: ["reveal-*"]}
    action: approve
    reveal: true
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m, mode: async}
  - name: guarded-configmaps
    match: {verbs: [patch], resources: [configmaps], names: ["guarded-*"]}
    action: approve
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m, mode: async}
""")

    def k(*args, **kw):
        return kubectl(gw.kubeconfig, "-n", ns, *args, **kw)

    def direct(*args, **kw):
        return kubectl(standin_kubeconfig, "-n", ns, *args, **kw)
    kubectl(standin_kubeconfig, "create", "ns", ns)
    try:
        pw, env_value = f"pw{secrets.token_hex(8)}", f"env{secrets.token_hex(8)}"
        k("create", "configmap", "app", f"--from-literal=db_password={pw}", "--from-literal=host=db.local")
        out = k("get", "cm", "app", "-o", "yaml").stdout
        assert "db_password: '***MASKED***'" in out and "host: db.local" in out
        assert pw not in k("get", "cm", "-o", "json").stdout, "the ConfigMap list shows the password"
        assert direct("get", "cm", "app", "-o", "jsonpath={.data.db_password}").stdout == pw, "the cluster does not hold the real value"
        k("apply", "-f", "-", stdin=f"""apiVersion: v1
kind: Pod
metadata: {{name: two}}
spec:
  containers:
  - {{name: web, image: busybox, env: [{{name: MODE, value: plain-visible}}]}}
  - {{name: mydb, image: busybox, env: [{{name: DB_PASS, value: {env_value}}}]}}
""")
        out = k("get", "pod", "two", "-o", "json").stdout
        assert env_value not in out, f"the pod shows the db container's env value: {out}"
        assert "plain-visible" in out
        assert json.loads(out)["spec"]["containers"][1]["env"][0]["value"] == "***MASKED***", "env value not masked"
        token = "acme_" + "".join(secrets.choice("abcdef") for _ in range(12))
        with open(os.path.join(standin.dir, "runtime", "pods", ns, "two", "t.txt"), "w") as f:
            f.write(f"token {token}\n")
        out = k("exec", "two", "-c", "web", "--", "cat", "t.txt").stdout
        assert out == "token ***MASKED***\n", f"the pattern did not mask exec output: {out}"

        # reviewers see the profile's fields masked too: in the stored body and in the dry-run preview
        direct("create", "configmap", "guarded-app", f"--from-literal=db_password={pw}")
        npw = f"npw{secrets.token_hex(8)}"
        out = k("patch", "cm", "guarded-app", "--type=merge", "-p", json.dumps({"data": {"db_password": npw}}), check=False)
        assert out.returncode != 0, f"the guarded patch passed: {out.stdout}"
        gid = approval_id(out.stderr)
        assert gid, f"no approval for the guarded patch: {out.stderr}"
        shown = gw.reviewer_cli("approvals", "show", gid, "-o", "json").stdout
        assert npw not in shown, f"the approval shows the new password: {shown}"
        assert pw not in shown, f"the approval shows the old password: {shown}"
        assert "***MASKED***" in shown

        # reveal: only through an approved request, once
        sv = f"sv{secrets.token_hex(8)}"
        direct("create", "secret", "generic", "reveal-me", f"--from-literal=k={sv}")
        direct("create", "secret", "generic", "other", f"--from-literal=k={sv}")
        assert k("get", "secret", "other", "-o", "jsonpath={.data.k}").stdout == MASKED_B64, \
            "a Secret outside the reveal rule is not masked"
        out = k("get", "secret", "reveal-me", "-o", "jsonpath={.data.k}", check=False)
        assert out.returncode != 0, f"reveal without an approval: {out.stdout}"
        rid = approval_id(out.stderr)
        assert rid, f"no approval id: {out.stderr}"
        gw.reviewer_cli("approve", rid, "--reason", "incident 42")
        out = k("get", "secret", "reveal-me", "-o", "jsonpath={.data.k}").stdout
        assert base64.b64decode(out).decode() == sv, f"the approved reveal: {out}"
        out = k("get", "secret", "reveal-me", "-o", "jsonpath={.data.k}", check=False)
        assert out.returncode != 0, f"one approval revealed twice: {out.stdout}"
        assert "approval required" in out.stderr
    finally:
        kubectl(standin_kubeconfig, "delete", "ns", ns, "--wait=false", check=False)
