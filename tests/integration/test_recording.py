"""Session recording: every exchange as the client saw it, one session per kubectl invocation, with
no Secret value and no credential in it; exec replay and asciicast export; the body cap; the REST
API for reviewers; retention."""
import hashlib
import json
import os
import subprocess
import uuid

from conftest import kubectl
from harness import wait_until


def test_recordings_hold_what_the_client_saw_and_nothing_secret(own_gateway, standin, db, tmp_path):
    # No Secret value reaches a recording (bodies and exec output alike), no credential either; an
    # exec session replays with its output and exports as asciicast v2; a body over the cap keeps
    # its full size and hash; the REST API serves the same to reviewers only; retention removes old
    # recordings.
    tag = uuid.uuid4().hex[:8]
    cluster, ns = f"rec{tag}", f"rec-{tag}"
    gw = own_gateway(cluster, "defaultAction: allow\n",
                     extra_config="recording:\n  max_body_bytes: 4096\n  retention: 1d\n  retention_check_seconds: 1\n")

    def k(*args, **kw):
        return kubectl(gw.kubeconfig, "-n", ns, *args, **kw)
    kubectl(standin.kubeconfig, "create", "ns", ns)
    try:
        v1, v2 = f"rv{uuid.uuid4().hex}", f"rv{uuid.uuid4().hex}"
        k("create", "secret", "generic", "rec", f"--from-literal=password={v1}")  # a protobuf body
        k("apply", "-f", "-", stdin=f"apiVersion: v1\nkind: Secret\nmetadata: {{name: applied}}\nstringData: {{token: {v2}}}\n")
        k("get", "secret", "rec", "applied", "-o", "yaml")
        k("run", "box", "--image=busybox", "--", "sleep", "3600")
        key = os.path.join(standin.dir, "runtime", "pods", ns, "box", "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)  # the pod runs as nobody
        with open(key) as f:
            body_line = f.read().splitlines()[1]
        out = k("exec", "box", "--", "sh", "-c", "echo hello-out; echo hello-err >&2; cat key.pem; exit 3", check=False)
        assert out.returncode == 3, f"exec exit code {out.returncode}: {out.stdout}{out.stderr}"
        assert "hello-out" in out.stdout
        assert "password=***MASKED***" in k("exec", "-i", "box", "--", "cat", stdin=f"password={v1}\n").stdout
        k("create", "configmap", "big", "--from-literal=blob=" + "x" * 9000)
        big_response = gw.request("GET", f"/clusters/{cluster}/api/v1/namespaces/{ns}/configmaps/big?capmark=1",
                                  token=gw.bot_token).body.encode()

        done = """SELECT count(*) FROM recording_exchanges e JOIN recording_sessions s ON s.id = e.session_id
                  WHERE s.cluster = %s AND e.finished_at IS {} NULL"""
        wait_until(lambda: db.value(done.format("NOT") + " AND e.request_uri LIKE '%%capmark%%'", cluster) == 1, timeout=15,
                   what="the last exchange recorded")
        wait_until(lambda: db.value(done.format(""), cluster) == 0, timeout=15, what="every exchange finished")
        recorded = db.value(done.format("NOT"), cluster)
        assert recorded >= 8, f"too few exchanges were recorded: {recorded}"

        def cli(*args):
            return subprocess.run([gw.bin, *args, "--database", gw.database_url], capture_output=True, text=True,
                                  timeout=60, check=True).stdout
        sessions_text = cli("sessions", "--cluster", cluster, "-o", "json")
        sessions = json.loads(sessions_text)
        assert len(sessions["items"]) >= 6, f"too few sessions: {sessions}"
        assert '"kubectlCommand": "kubectl get"' in sessions_text
        shown = {s["id"]: cli("sessions", "show", s["id"], "-o", "json") for s in sessions["items"]}
        everything = "".join(shown.values())
        assert v1 not in everything, "a recording holds a Secret value (create or exec stdin)"
        assert v2 not in everything, "a recording holds a Secret value (apply)"
        assert body_line not in everything, "a recording holds the private key"
        assert gw.bot_token not in everything, "a recording holds the bot's token"
        assert '"authorization"' not in everything.lower(), "a recording holds an Authorization header"
        assert "KioqTUFTS0VEKioq" in everything  # the response bodies are there, masked
        assert '"User-Agent"' in everything

        # exec: asciicast v2 with the output, the exit status; replay plays the same output
        exchanges = {sid: json.loads(text).get("exchanges") or [] for sid, text in shown.items()}
        execs = [(sid, e) for sid, es in exchanges.items() for e in es
                 if e["kind"] == "exec" and "hello-out" in e["requestURI"]]
        assert execs, "no exec recording"
        exec_session, exec_exchange = execs[0]
        cast = cli("sessions", "export", exec_exchange["id"], "--asciicast")
        header, *events = cast.splitlines()
        h = json.loads(header)
        assert h["version"] == 2 and h["width"] > 0 and h["height"] > 0 and isinstance(h["timestamp"], (int, float)), header
        for line in events:
            ev = json.loads(line)
            assert isinstance(ev, list) and len(ev) == 3 and isinstance(ev[0], (int, float)) and ev[1] in ("o", "i", "r"), line
        assert "***MASKED***" in cast
        assert "exit code 3" in header
        replayed = subprocess.run([gw.bin, "replay", exec_exchange["id"], "--speed", "100", "--database", gw.database_url],
                                  capture_output=True, text=True, timeout=60, check=True).stdout
        for expected in ("hello-out", "hello-err", "-----BEGIN PRIVATE KEY-----***MASKED***"):
            assert expected in replayed
        again = json.loads(cli("sessions", "show", exec_session, "-o", "json"))
        status = [e for e in again["exchanges"] if e["id"] == exec_exchange["id"]][0]["exitStatus"]
        assert status["details"]["causes"][0]["message"] == "3", "the exit status was not recorded"

        # the cap: stored in part, the size and hash of the whole body
        capped = [e["response"] for es in exchanges.values() for e in es if "capmark" in e["requestURI"]][0]
        assert capped["truncated"] is True, f"a body over max_body_bytes is not marked: {capped}"
        assert capped["bytes"] == len(big_response), f"recorded size: {capped}"
        assert capped["sha256"] == hashlib.sha256(big_response).hexdigest(), f"recorded hash: {capped}"
        assert len(capped["body"]["text"]) == 4096, "stored more than the cap"

        # REST: reviewers read, the bot may not
        r = gw.request("GET", "/api/v1/sessions", token=gw.bot_token)
        assert r.status == 403 and "recording.viewer_groups" in r.body
        r = gw.request("GET", f"/api/v1/sessions?cluster={cluster}", token=gw.reviewer_token)
        assert len(json.loads(r.body)["items"]) == len(sessions["items"]), f"REST sessions: {r}"
        r = gw.request("GET", f"/api/v1/sessions/{exec_exchange['id']}/asciicast", token=gw.reviewer_token)
        assert r.body.rstrip("\n") == cast.rstrip("\n"), "REST asciicast differs from the CLI's"

        # retention: recordings older than a day go, in batches, the rest stays
        old = sessions["items"][0]["id"]
        db.execute("UPDATE recording_exchanges SET started_at = now() - interval '2 days' WHERE session_id = %s", old)
        db.execute("UPDATE recording_sessions SET last_at = now() - interval '2 days' WHERE id = %s", old)
        wait_until(lambda: db.value("SELECT count(*) FROM recording_sessions WHERE id = %s", old) == 0, timeout=15,
                   what="retention removing the old session")
        kept = db.value("SELECT count(*) FROM recording_sessions s WHERE s.cluster = %s", cluster)
        assert kept >= 5, "retention removed new sessions"
    finally:
        kubectl(standin.kubeconfig, "delete", "ns", ns, "--wait=false", check=False)
