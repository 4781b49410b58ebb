"""The intent audit: one row per request with who, what, where and the kubectl command, its outcome
filled in when the exchange ends, the Audit-ID the cluster sees, `audit list` and `audit export`;
the gateway failing closed while PostgreSQL is away; the hash chain `audit verify` checks; the SIEM
webhook and file sinks."""
import json
import re
import subprocess
import uuid
from urllib.parse import quote

from conftest import kubectl
from harness import ROOT as ROOT_DIR, Database, Gateway, free_port, read, shell_lib, wait_until

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


def test_audit_verify_finds_every_break_in_the_hash_chain(own_gateway, fresh_database):
    # Every audit row is a link of its writer's hash chain: `audit verify` passes on the real trail
    # and finds an edited row, a deleted row and a re-linked row, each by its link.
    url = fresh_database
    gw = own_gateway(f"chain{uuid.uuid4().hex[:6]}", "defaultAction: allow\n", database_url=url)
    for _ in range(5):
        kubectl(gw.kubeconfig, "get", "ns", "default", "-o", "name")
    kubectl(gw.kubeconfig, "get", "pods", "-n", "default", "--as=someone-else", check=False)  # refused: intent and outcome at once
    trail = Database(url)
    try:
        wait_until(lambda: trail.value("SELECT count(*) FROM audit_outcomes") >= 7, timeout=10, what="the outcomes written")

        def verify(*extra):
            return subprocess.run([gw.bin, "audit", "verify", "--database", url, *extra], capture_output=True, text=True,
                                  timeout=60)

        out = verify()
        assert out.returncode == 0, f"verify failed on an untouched trail: {out.stdout}{out.stderr}"
        assert "audit chain intact:" in out.stdout and "in 1 chain" in out.stdout
        assert trail.value("SELECT count(*) FROM audit_events WHERE row_hash IS NULL") == 0, "a row without a link"
        # an edited row
        seq = trail.value("SELECT min(chain_seq) FROM audit_events WHERE chain_seq > 2")
        trail.execute("UPDATE audit_events SET username = 'mallory' WHERE chain_seq = %s", seq)
        out = verify()
        assert out.returncode != 0, f"verify missed an edited row: {out.stdout}"
        assert f"link {seq} (intent" in out.stdout + out.stderr and "was edited" in out.stdout + out.stderr
        trail.execute("UPDATE audit_events SET username = 'automation-bot' WHERE chain_seq = %s", seq)
        assert verify().returncode == 0, "verify failed after the edit was undone"
        # an edited outcome
        seq = trail.value("SELECT min(chain_seq) FROM audit_outcomes")
        code = trail.value("SELECT response_code FROM audit_outcomes WHERE chain_seq = %s", seq)
        trail.execute("UPDATE audit_outcomes SET response_code = 299 WHERE chain_seq = %s", seq)
        out = verify()
        assert out.returncode != 0, f"verify missed an edited outcome: {out.stdout}"
        assert f"link {seq} (outcome" in out.stdout + out.stderr
        trail.execute("UPDATE audit_outcomes SET response_code = %s WHERE chain_seq = %s", code, seq)
        assert verify().returncode == 0, "verify failed after the outcome was restored"
        # a deleted row
        trail.execute("DELETE FROM audit_events WHERE chain_seq = 5; DELETE FROM audit_outcomes WHERE chain_seq = 5")
        out = verify()
        assert out.returncode != 0, f"verify missed a deleted row: {out.stdout}"
        assert "links 5 to 5 are missing" in out.stdout + out.stderr
        # re-numbering the rest to hide the gap breaks the links instead
        trail.execute("UPDATE audit_events SET chain_seq = chain_seq - 1 WHERE chain_seq > 5;"
                                    "UPDATE audit_outcomes SET chain_seq = chain_seq - 1 WHERE chain_seq > 5")
        out = verify()
        text = out.stdout + out.stderr
        assert out.returncode != 0, f"verify missed a re-numbered chain: {text}"
        assert "link 5 (" in text and "prev_hash is not the hash of the link before it" in text
        # --since checks from the window's first row on
        assert verify("--since", "2026-01-01T00:00:00Z").returncode != 0, "--since hid the break"
    finally:
        trail.close()


def test_audit_events_reach_a_siem_webhook_that_was_down_and_a_rotating_file(own_gateway, db, tmp_path):
    # Audit events leave as audit.k8s.io/v1 Events: EventList batches to a webhook that is down at
    # first (nothing is lost: every request's RequestReceived and ResponseComplete arrive once it is
    # up) and a JSON-lines file that rotates.
    cluster, hook_port = f"sink{uuid.uuid4().hex[:6]}", free_port()
    gwd, audit_file, hook_log = tmp_path / "gw", tmp_path / "audit.jsonl", tmp_path / "hook.jsonl"
    gw = own_gateway(cluster, "defaultAction: allow\n", extra_config=f"""audit:
  export_retry_initial_ms: 200
  sinks:
  - {{name: siem, type: webhook, url: "https://127.0.0.1:{hook_port}/audit", ca_file: {gwd}/certs/ca.crt, max_batch: 5}}
  - {{name: local, type: file, path: {audit_file}, max_bytes: 3000, max_files: 50}}
""")
    for _ in range(6):
        kubectl(gw.kubeconfig, "get", "ns", "default", "-o", "name")
    kubectl(gw.kubeconfig, "get", "pods", "--as=mallory", check=False)  # refused: its events carry the refusal
    ids = sorted(str(r[0]) for r in db.rows("SELECT id FROM audit_events WHERE cluster = %s", cluster))
    assert len(ids) >= 8, f"only {len(ids)} audit rows"
    wait_until(lambda: (db.value("""SELECT attempts FROM audit_export_cursors WHERE sink = 'siem' AND chain_id =
                                    (SELECT chain_id FROM audit_events WHERE cluster = %s LIMIT 1)""", cluster) or 0) >= 1,
               timeout=15, what="a failed delivery recorded")
    errors = [r[0] for r in db.rows("SELECT last_error FROM audit_export_cursors WHERE sink = 'siem'")]
    assert any("Couldn't connect" in (e or "") for e in errors), errors
    receiver = subprocess.Popen(["python3", f"{ROOT_DIR}/tests/gateway/notify_receivers.py", "https", str(hook_port),
                                 f"{gwd}/certs/tls.crt", f"{gwd}/certs/tls.key", str(hook_log)])
    try:
        def batches():
            return [json.loads(json.loads(line)["body"]) for line in read(hook_log).splitlines()]

        def have_all():  # every audit id of this cluster arrived as RequestReceived and as ResponseComplete
            got = {(e["auditID"], e["stage"]) for b in batches() for e in b["items"]}
            return all((i, "RequestReceived") in got and (i, "ResponseComplete") in got for i in ids)
        wait_until(have_all, timeout=30, what="the webhook getting every event")
        for b in batches():
            assert b["kind"] == "EventList" and b["apiVersion"] == "audit.k8s.io/v1" and len(b["items"]) <= 5, \
                f"a batch is not an EventList of at most 5: {b}"
        refusals = [e for b in batches() for e in b["items"]
                    if e["stage"] == "ResponseComplete" and e.get("responseStatus", {}).get("code") == 403]
        assert refusals and all(e["annotations"]["authorization.k8s.io/decision"] == "forbid" for e in refusals), \
            "the refusal is missing"
    finally:
        receiver.kill()
        receiver.wait()

    # the file: rotated, every line an Event, every event there
    def file_events():
        files = sorted(tmp_path.glob("audit.jsonl*"))
        return files, [json.loads(line) for f in files for line in f.read_text().splitlines()]

    def file_has_all():
        _, events = file_events()
        got = {(e["auditID"], e["stage"]) for e in events if e["kind"] == "Event" and e["apiVersion"] == "audit.k8s.io/v1"}
        return all((i, "ResponseComplete") in got for i in ids)
    wait_until(file_has_all, timeout=10, what="the file sink holding every event")
    files, _ = file_events()
    assert (tmp_path / "audit.jsonl.1").exists(), f"the file sink did not rotate: {files}"
    for f in files:
        assert f.stat().st_size <= 3000, f"{f} grew past max_bytes: {f.stat().st_size} bytes"


def test_the_audit_api_searches_in_pages_exports_and_verifies(own_gateway, fresh_database):
    # /api/v1/audit (and the reviewer UI's /ui/api/audit): audit list's filters with keyset pages,
    # the export of a window as JSON lines streamed page by page, and the chain's check.
    url = fresh_database
    cluster = f"aud{uuid.uuid4().hex[:6]}"
    gw = own_gateway(cluster, "defaultAction: allow\n", database_url=url)
    for _ in range(5):
        kubectl(gw.kubeconfig, "get", "configmaps", "-n", "default", "-o", "name")
    trail = Database(url)
    try:
        wait_until(lambda: trail.value("SELECT count(*) FROM audit_log WHERE response_code IS NULL") == 0
                   and trail.value("SELECT count(*) FROM audit_log") >= 6, timeout=10, what="the outcomes written")
        total = trail.value("SELECT count(*) FROM audit_log")

        def get(path, token=None):
            r = gw.request("GET", path, token=token or gw.reviewer_token)
            return r.status, (json.loads(r.body) if r.headers.get("content-type", "").startswith("application/json")
                              else r.body)

        # every row once, newest first, through the continue tokens
        seen, path = [], f"/api/v1/audit?cluster={cluster}&limit=2"
        while True:
            code, page = get(path)
            assert code == 200, page
            assert len(page["items"]) <= 2
            seen += page["items"]
            if not page["continue"]:
                break
            path = f"/api/v1/audit?cluster={cluster}&limit=2&continue={quote(page['continue'])}"
        assert len(seen) == total and len({e["auditID"] for e in seen}) == total, (len(seen), total)
        times = [(e["receivedAt"], e["auditID"]) for e in seen]
        assert times == sorted(times, reverse=True), "pages are not newest first"
        # audit list's filters
        code, page = get("/api/v1/audit?user=automation-bot&verb=list&resource=configmaps&namespace=default&since=10m")
        assert code == 200 and len(page["items"]) == 5 and not page["continue"], page
        assert {e["kubectlCommand"] for e in page["items"]} == {"kubectl get"}
        code, page = get("/api/v1/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")
        assert code == 200 and page == {"items": [], "continue": ""}, page
        # the export: every row of the window, as audit.k8s.io Events, one per line
        r = gw.request("GET", "/api/v1/audit/export?since=1h", token=gw.reviewer_token)
        assert r.status == 200 and r.headers["content-type"].startswith("application/jsonl"), r
        assert "attachment" in r.headers["content-disposition"]
        events = [json.loads(line) for line in r.body.splitlines()]
        assert len(events) == total and {e["kind"] for e in events} == {"Event"}
        assert events[0]["apiVersion"] == "audit.k8s.io/v1" and events[0]["stage"] == "ResponseComplete"
        # the chain's check
        code, report = get("/api/v1/audit/verify")
        assert code == 200 and report["intact"] and report["chains"] == 1 and report["rows"] >= total, report
        seq = trail.value("SELECT max(chain_seq) FROM audit_events")
        trail.execute("UPDATE audit_events SET username = 'mallory' WHERE chain_seq = %s", seq)
        code, report = get("/api/v1/audit/verify")
        assert code == 200 and not report["intact"] and "was edited" in report["broken"], report
        trail.execute("UPDATE audit_events SET username = 'automation-bot' WHERE chain_seq = %s", seq)
        # more rows than one export page: copies of a row, outside any chain
        trail.add_unchained_audit_rows(cluster, 1234)
        r = gw.request("GET", "/api/v1/audit/export?since=2h", token=gw.reviewer_token)
        lines = r.body.splitlines()
        assert r.status == 200 and len(lines) == total + 1234, len(lines)
        ids = [json.loads(line)["auditID"] for line in lines]
        assert len(set(ids)) == len(ids), "a row was exported twice across pages"
        code, report = get("/api/v1/audit/verify")
        assert report["intact"] and report["unchained"] == 1234, report
        # refusals: not an auditor, bad windows and cursors, writes
        code, status = get("/api/v1/audit", token=gw.bot_token)
        assert code == 403 and "audit.viewer_groups" in status["message"], status
        assert gw.request("GET", "/api/v1/audit/export", token=gw.bot_token).status == 403
        for bad in ("since=yesterday", "until=soon", "limit=0", "limit=501", "limit=x",
                    "continue=nonsense", "continue=" + quote("2026-01-01T00:00:00Z|not-a-uuid")):
            code, status = get("/api/v1/audit?" + bad)
            assert code == 400 and status["kind"] == "Status", (bad, status)
        assert get("/api/v1/audit/other")[0] == 404
        assert gw.request("DELETE", "/api/v1/audit", token=gw.reviewer_token).status == 405
    finally:
        trail.close()
