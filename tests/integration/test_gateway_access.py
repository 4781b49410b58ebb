"""Who gets in and as whom: client tokens, agent tokens, the identity the cluster sees, client
impersonation, the metrics endpoint's access, and a failed upgrade that must not open a channel."""
import json
import os
import re
import socket
import ssl
import subprocess
import uuid
from urllib.parse import quote

from conftest import kubectl
from harness import ROOT, http_plain, read, wait_until


def test_client_and_agent_tokens(gateway, standin, tmp_path):
    path = "/clusters/c1/api/v1/namespaces"
    r = gateway.request("GET", path)
    assert r.status == 401 and '"kind":"Status"' in r.body
    assert gateway.request("GET", path, token="wrong").status == 401
    assert gateway.request("GET", path, token=gateway.bot_token).status == 200
    assert gateway.bot_token not in gateway.log(), "the gateway logged a client token"
    assert gateway.file("agent-c1.token") not in gateway.log(), "the gateway logged an agent token"

    # An agent with a wrong token is refused, and the refusal is logged without the token.
    (tmp_path / "bad.token").write_text("sluice-agent-wrong\n")
    log = tmp_path / "bad-agent.log"
    with open(log, "w") as out:
        agent = subprocess.Popen([gateway.agent_bin, "--gateway", f"127.0.0.1:{gateway.agent_port}", "--cluster", "c1",
                                  "--token-file", str(tmp_path / "bad.token"), "--gateway-ca", gateway.ca,
                                  "--kubeconfig", standin.kubeconfig], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "refused this agent" in read(log), timeout=10, what="the wrong agent token refused")
        wait_until(lambda: "wrong token or unknown cluster" in gateway.log(), timeout=10,
                   what="the refusal in the gateway log")
        assert "sluice-agent-wrong" not in gateway.log(), "the gateway logged the wrong agent token"
    finally:
        agent.kill()
        agent.wait()


def test_the_cluster_sees_the_caller_and_client_impersonation_is_refused(gateway, kubeconfig, standin, db):
    seq = standin.seq()
    mark = f"probe=identity-{uuid.uuid4().hex[:8]}"
    kubectl(kubeconfig, "get", "cm", "-n", "default", "-l", mark)
    out = kubectl(kubeconfig, "get", "cm", "-n", "default", "-l", mark, "--as", "mallory", "--as-group", "system:masters",
                  check=False)
    assert out.returncode != 0, "kubectl --as was let through"
    assert "impersonation (kubectl --as/--as-group, Impersonate-* headers) is not allowed through Sluice" in out.stderr
    r = gateway.request("GET", f"/clusters/c1/api/v1/namespaces/default/configmaps?limit=1&labelSelector={quote(mark)}",
                        token=gateway.bot_token, headers={"Impersonate-Extra-scopes": "x"})
    assert r.status == 403 and '"reason":"Forbidden"' in r.body

    seen = [x for x in standin.requests_since(seq)["items"]
            if x["uri"].startswith("/api/v1/namespaces/default/configmaps") and quote(mark) in x["uri"]]
    assert len(seen) == 1, f"expected only the plain request at the stand-in, got: {seen}"
    for rec in seen:
        assert rec["impersonate"]["user"] == "automation-bot", rec
        assert rec["impersonate"]["uid"] == "uid-automation-bot", rec
        assert rec["impersonate"]["groups"] == ["ci", "bots", "system:authenticated"], rec
        assert rec["impersonate"].get("extra", {}) == {}, f"client Impersonate-Extra passed through: {rec}"
        assert rec["authenticatedUser"] == "standin-admin", "the cluster saw other credentials than the agent's"
    wait_until(lambda: db.value("""SELECT count(*) FROM audit_log WHERE decision = 'denied' AND response_code = 403
                                   AND kubectl_command = 'kubectl get'
                                   AND decision_reason LIKE 'impersonation (kubectl --as%%'""") >= 1,
               timeout=10, what="the refused --as request audited as denied")


def test_metrics_need_a_metrics_group_or_a_listener_of_their_own(own_gateway):
    # /metrics behind authentication (metrics.authenticate: members of metrics.groups only), then on
    # a plain-HTTP listener of its own (metrics.listen), where the client listener stops serving it.
    cluster = f"met{uuid.uuid4().hex[:8]}"
    gw = own_gateway(cluster, "defaultAction: allow\n", extra_config="metrics:\n  authenticate: true\n")
    r = gw.request("GET", "/metrics")
    assert r.status == 401 and '"kind":"Status"' in r.body
    r = gw.request("GET", "/metrics", token=gw.bot_token)
    assert r.status == 403 and "metrics.groups" in r.body
    r = gw.request("GET", "/metrics", token=gw.reviewer_token)
    assert r.status == 200 and "sluice_tunnels " in r.body
    assert gw.request("GET", "/healthz").body == "ok", "/healthz needs no login"

    with open(gw.config) as f:
        config = f.read()
    with open(gw.config, "w") as f:
        f.write(config.replace("\n  authenticate: true\n", "\n  listen: 127.0.0.1:0\n"))
    gw.restart()
    found = re.search(r'"metrics_port": (\d+)', gw.file("ready.json"))
    assert found, f"the ready file names no metrics port: {gw.file('ready.json')}"
    port = int(found.group(1))
    wait_until(lambda: f"agent connected: cluster={cluster}" in gw.log(), what="the agent reconnecting")
    assert "sluice_tunnels 1" in http_plain(port, "GET", "/metrics").body
    for p in ("/healthz", "/readyz"):
        assert http_plain(port, "GET", p).body == "ok", f"metrics listener {p}"
    assert http_plain(port, "GET", "/api/v1/namespaces").status == 404
    assert http_plain(port, "POST", "/metrics", body="x").status == 405
    r = gw.request("GET", "/metrics", token=gw.reviewer_token)
    assert r.status == 404 and "metrics.listen" in r.body


def test_a_failed_upgrade_opens_no_raw_channel(own_gateway, standin):
    # CVE-2018-1002105: after a non-101 answer to an upgrade request the connection is not a raw
    # channel; a credential-less request sent on it next never reaches the cluster.
    cluster, mark = f"fu{uuid.uuid4().hex[:8]}", f"fumark{uuid.uuid4().hex[:8]}"
    gw = own_gateway(cluster, "defaultAction: allow\n")
    seq = standin.seq()
    out = subprocess.run(["python3", os.path.join(ROOT, "tests", "security", "failed_upgrade.py"), "127.0.0.1", str(gw.port),
                          gw.ca, gw.bot_token, cluster, mark], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"failed upgrade: {out.stdout}{out.stderr}"
    assert "exec into a missing pod: 404" in out.stdout
    reached = [x for x in standin.requests_since(seq)["items"] if mark in json.dumps(x)]
    assert not reached, f"a request sent after a failed upgrade reached the cluster: {reached}"


def test_a_resumed_tls_session_is_accepted(gateway):
    # Browsers resume TLS sessions on their next connections. With client certificates verified
    # (auth.client_ca_file), OpenSSL refused resumption unless the context names its sessions, so
    # a browser's second connection failed with ERR_SSL_PROTOCOL_ERROR.
    context = ssl.create_default_context(cafile=gateway.ca)

    def get(session=None):
        with socket.create_connection(("127.0.0.1", gateway.port)) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := s.recv(4096):
                    answer += chunk
                return answer, s.session, s.session_reused

    first, session, _ = get()
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"ok"), first
    assert session is not None, "the gateway issued no session ticket"
    again, _, reused = get(session)
    assert again.startswith(b"HTTP/1.1 200"), again
    assert reused, "the gateway did not resume the session"
