"""The intent audit: one row per request with who, what, where and the kubectl command, its outcome
filled in when the exchange ends, the Audit-ID the cluster sees, `audit list` and `audit export`;
and the gateway failing closed while PostgreSQL is away. (Moved from tests/gateway/gateway_test.sh:
audit, audit_fail_closed.)"""
import json
import re
import subprocess
import uuid

import pytest

from conftest import kubectl
from harness import Database, Gateway, read, shell_lib, wait_until

ROW = """SELECT verb, resource, subresource, namespace, name, username, array_to_string(groups, ','), auth_method,
                source_ip, kubectl_command, decision, response_code FROM audit_log WHERE {}"""
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
MICROS = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z$")


def _psql_row(row):
    """A row as `psql -At -F'|'` prints it: NULL empty, fields joined by |."""
    return "|".join("" if v is None else str(v) for v in row)


def test_one_intent_row_per_request_with_its_outcome(gateway, kubeconfig, standin, db, tmp_path):
    tag = uuid.uuid4().hex[:8]
    name, pod = f"audit-cm-{tag}", f"audit-box-{tag}"
    kubectl(kubeconfig, "apply", "-f", "-", stdin=f'apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\ndata: {{a: "1"}}\n')
    kubectl(kubeconfig, "delete", "cm", name, "-n", "default")
    kubectl(kubeconfig, "run", pod, "-n", "default", "--image=busybox", "--", "sleep", "3600")
    try:
        kubectl(kubeconfig, "exec", pod, "-n", "default", "--", "true")
        # counted once, at the chain's completion point, with the classified verb (an exec is a create)
        assert 'sluice_requests_total{cluster="c1",verb="create",code="101"}' in gateway.request("GET", "/metrics").body
        seq = standin.seq()
        watch_out = tmp_path / "watch.out"
        with open(watch_out, "w") as out:
            watcher = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "get", "cm", "-n", "default", "-w",
                                        "--field-selector", f"metadata.name={name}"], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: [x for x in standin.requests_since(seq)["items"]
                                if "watch=true" in x["uri"] and name in x["uri"]], what="the watch reaching the cluster")
            kubectl(kubeconfig, "create", "cm", name, "-n", "default")
            wait_until(lambda: name in read(watch_out), timeout=10, what="the watch seeing the event")
        finally:
            watcher.terminate()
            watcher.wait()

        session = db.value("SELECT kubectl_session FROM audit_events WHERE name = %s AND kubectl_command = 'kubectl apply' LIMIT 1", name)
        assert session, "no row for kubectl apply's GET of " + name

        def expect_row(where, params, expected, what):
            wait_until(lambda: db.value(f"SELECT 1 FROM audit_log WHERE {where} AND finished_at IS NOT NULL LIMIT 1", *params),
                       timeout=10, what=f"{what} getting its outcome")
            got = _psql_row(db.rows(ROW.format(where), *params)[0])
            assert got == expected, f"{what} row: {got}"

        expect_row("kubectl_session = %s AND verb = 'create'", [session],
                   "create|configmaps||default||automation-bot|ci,bots|static-token|127.0.0.1|kubectl apply|allowed|201",
                   "apply's create")
        expect_row("name = %s AND verb = 'delete'", [name],
                   f"delete|configmaps||default|{name}|automation-bot|ci,bots|static-token|127.0.0.1|kubectl delete|allowed|200",
                   "delete")
        expect_row("name = %s AND subresource = 'exec'", [pod],
                   f"create|pods|exec|default|{pod}|automation-bot|ci,bots|static-token|127.0.0.1|kubectl exec|allowed|101",
                   "exec (verb create whatever the method)")
        expect_row("name = %s AND verb = 'watch'", [name],
                   f"watch|configmaps||default|{name}|automation-bot|ci,bots|static-token|127.0.0.1|kubectl get|allowed|200",
                   "the watch, after kubectl went away,")
        # the cluster got the same id, so its own audit log joins ours
        delete_id = str(db.value("SELECT id FROM audit_events WHERE name = %s AND verb = 'delete'", name))
        seen = [x for x in standin.requests_since(0)["items"] if x.get("auditID") == delete_id and x.get("method") == "DELETE"]
        assert len(seen) == 1, f"the stand-in did not see Audit-ID {delete_id} on the delete"
        agents = db.value("SELECT count(*) FROM audit_events WHERE kubectl_session = %s AND user_agent LIKE 'kubectl/%%'", session)
        assert agents >= 2, f"user agent not recorded for kubectl apply's requests ({agents} rows)"

        # a client-sent X-Forwarded-For is not a source address: the socket's peer is
        gateway.request("GET", f"/clusters/c1/api/v1/namespaces/default/configmaps/{name}-xff", token=gateway.bot_token,
                        headers={"X-Forwarded-For": "203.0.113.9"})
        wait_until(lambda: db.value("SELECT 1 FROM audit_log WHERE name = %s LIMIT 1", f"{name}-xff"), timeout=10,
                   what="a row for the X-Forwarded-For request")
        source = db.value("SELECT source_ip FROM audit_events WHERE name = %s", f"{name}-xff")
        assert source == "127.0.0.1", f"a client-sent X-Forwarded-For became the source address: {source}"

        _audit_list(gateway, name, pod)
        _audit_export(gateway, name, delete_id)
    finally:
        kubectl(kubeconfig, "delete", "pod", pod, "-n", "default", "--wait=false", check=False)
        kubectl(kubeconfig, "delete", "cm", name, "-n", "default", check=False)


def _audit_list(gateway, name, pod):
    # sluice-gateway audit list: filters, JSON and table
    out = json.loads(gateway.cli("audit", "list", "--user", "automation-bot", "--verb", "delete", "--resource", "configmaps",
                                 "--since", "10m", "-o", "json").stdout)
    mine = [e for e in out["items"] if e["name"] == name]
    assert len(mine) == 1, f"audit list -o json: {out}"
    assert not [e for e in out["items"] if e["verb"] != "delete" or e["resource"] != "configmaps"], \
        f"audit list filters let other events through: {out}"
    e = mine[0]
    assert e["user"]["groups"] == ["ci", "bots"] and e["responseCode"] == 200 and e["kubectlCommand"] == "kubectl delete" \
        and isinstance(e["finishedAt"], str), f"audit list fields: {e}"
    table = gateway.cli("audit", "list", "--resource", "pods/exec", "--namespace", "default").stdout
    for expected in ("TIME", "pods/exec", pod, "kubectl exec"):
        assert expected in table
    none = json.loads(gateway.cli("audit", "list", "--cluster", "no-such-cluster", "-o", "json").stdout)
    assert none["items"] == [], f"--cluster did not filter: {none}"
    bad = gateway.cli("audit", "list", "--since", "yesterday", check=False)
    assert bad.returncode == 2, f"a bad --since exited {bad.returncode}"
    assert "--since takes a duration" in bad.stdout + bad.stderr


def _audit_export(gateway, name, delete_id):
    # sluice-gateway audit export: every event of the window as an audit.k8s.io/v1 Event, one per line
    lines = gateway.cli("audit", "export", "--since", "10m").stdout.splitlines()
    assert lines, "audit export printed nothing"
    events = [json.loads(line) for line in lines]
    assert len(events) > 5
    for ev in events:
        ok = (ev["kind"] == "Event" and ev["apiVersion"] == "audit.k8s.io/v1" and ev["level"] == "Metadata"
              and UUID4.match(ev["auditID"]) and ev["stage"] in ("ResponseComplete", "RequestReceived")
              and ev["requestURI"].startswith("/") and ev["verb"] and ev["user"]["username"]
              and "system:authenticated" in ev["user"]["groups"] and len(ev["sourceIPs"]) == 1
              and MICROS.match(ev["requestReceivedTimestamp"]) and ev["stageTimestamp"].endswith("Z")
              and (ev["stage"] == "RequestReceived" or isinstance(ev["responseStatus"]["code"], int))
              and ev["annotations"]["authorization.k8s.io/decision"] in ("allow", "forbid"))
        assert ok, f"audit export: not every line is an audit.k8s.io/v1 Event: {ev}"
    stamps = [ev["requestReceivedTimestamp"] for ev in events]
    assert stamps == sorted(stamps), "audit export is not oldest first"
    ev = [e for e in events if e["auditID"] == delete_id]
    assert ev, "the delete is not in the export"
    ev = ev[0]
    assert ev["verb"] == "delete" and ev["stage"] == "ResponseComplete" and ev["responseStatus"]["code"] == 200
    assert ev["objectRef"] == {"resource": "configmaps", "namespace": "default", "name": name, "apiVersion": "v1"}, ev
    assert ev["user"] == {"username": "automation-bot", "uid": "uid-automation-bot",
                          "groups": ["ci", "bots", "system:authenticated"]}, ev
    assert ev["annotations"]["sluice.dev/cluster"] == "c1" and ev["annotations"]["sluice.dev/kubectl-command"] == "kubectl delete"
    assert ev["annotations"]["sluice.dev/auth-method"] == "static-token" and ev["userAgent"].startswith("kubectl/"), ev
    bounded = gateway.cli("audit", "export", "--since", "10m", "--until", "2000-01-01T00:00:00Z").stdout
    assert bounded == "", "audit export --until did not bound the window"


@pytest.fixture
def own_postgres(tmp_path):
    """A PostgreSQL of the test's own (scripts/lib/pg.sh), for outages no other test may see."""
    state = str(tmp_path / "pg")
    shell_lib("pg_start", state)
    yield state
    shell_lib("pg_stop", state)


def test_requests_are_refused_while_the_audit_store_is_down(gateway, standin, own_postgres, tmp_path):
    # PostgreSQL goes away: requests are refused with 503 and none reaches the cluster; when it is
    # back, requests flow again without restarting the gateway.
    url = read(f"{own_postgres}/url").strip()
    gw = Gateway(str(tmp_path / "gw"))
    shell_lib("gateway_setup", gw.bin, gw.dir, url)
    # (this gateway also trusts 127.0.0.1 as a proxy: its X-Forwarded-For becomes the source address)
    with open(gw.config, "a") as f:
        f.write("audit:\n  commit_timeout_ms: 1000\ntrusted_proxies: [127.0.0.1/32]\n")
    gw.start()
    try:
        gw.start_agent("fc", standin.kubeconfig)
        base = "/clusters/fc/api/v1/namespaces/default/configmaps"
        wait_until(lambda: gw.request("GET", base + "?limit=1", token=gw.bot_token).status == 200,
                   what="a request passing before the outage")
        name = f"fail-closed-{uuid.uuid4().hex[:8]}"
        shell_lib("pg_pause", own_postgres)
        seq = standin.seq()
        r = gw.request("GET", f"{base}/{name}", token=gw.bot_token)
        assert r.status == 503 and "audit store unavailable; request not forwarded" in r.body and '"kind":"Status"' in r.body
        r = gw.request("POST", base, token=gw.bot_token, headers={"Content-Type": "application/json"},
                       body=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}))
        assert r.status == 503
        assert not [x for x in standin.requests_since(seq)["items"] if name in json.dumps(x)], \
            "a request reached the cluster while the audit store was down"
        assert kubectl(standin.kubeconfig, "get", "cm", name, "-n", "default", check=False).returncode != 0, "the create was forwarded"
        shell_lib("pg_resume", own_postgres)
        wait_until(lambda: gw.request("GET", base + "?limit=1", token=gw.bot_token).status == 200,
                   what="requests flowing after PostgreSQL returned")
        r = gw.request("GET", f"{base}/{name}", token=gw.bot_token, headers={"X-Forwarded-For": "198.51.100.23, 203.0.113.9"})
        assert r.status == 404
        # (the outcome follows its intent row within a batch or 50 ms: wait for it)
        own_db = Database(url)
        try:
            wait_until(lambda: own_db.value("""SELECT count(*) FROM audit_log WHERE name = %s AND response_code = 404
                                               AND source_ip = '203.0.113.9'""", name) == 1, timeout=10,
                       what="the request after the outage audited with the forwarded source address")
        finally:
            own_db.close()
        assert gw.bot_token not in gw.log(), "the gateway logged a client token"
    finally:
        gw.stop()
