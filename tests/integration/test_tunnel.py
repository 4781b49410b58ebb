"""The tunnel between gateway and agent: Exchange calls reused, large bodies framed, an agent that
drains on SIGTERM, and the agent's in-cluster mode with a rotating ServiceAccount token."""
import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
import uuid

from conftest import kubectl
from harness import read, wait_until


def _metric(text, name, cluster):
    return [int(v) for v in re.findall(r"^" + name + r'\{cluster="' + cluster + r'",[^}]*\} (\d+)$', text, re.M)]


def _alive(pid):
    # agent_start setsid's the agent, so init reaps it: gone from /proc, or a zombie for a moment
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_exchange_calls_are_reused_and_bodies_span_frames(gateway, kubeconfig, standin, extra_cluster):
    # Exchange calls go back to the idle pool after each clean exchange: 100 requests, few calls.
    # A cluster of its own, so other tests' requests do not count here.
    cluster = f"reuser{uuid.uuid4().hex[:6]}"
    extra_cluster(cluster)
    url = f"/clusters/{cluster}/api/v1/namespaces/default"
    probe = f"probe=reuse-{uuid.uuid4().hex[:8]}"  # a query of its own, to find these requests in the stand-in's log
    seq = standin.seq()
    auth = {"Authorization": f"Bearer {gateway.bot_token}"}
    conn = http.client.HTTPSConnection("127.0.0.1", gateway.port, context=ssl.create_default_context(cafile=gateway.ca),
                                       timeout=30)
    codes = []
    for _ in range(100):  # one connection, keep-alive
        conn.request("GET", f"{url}?{probe}", headers=auth)
        r = conn.getresponse()
        r.read()
        codes.append(r.status)
    assert codes.count(200) == 100, f"not all 100 requests succeeded: {sorted(set(codes))}"
    # the agent keeps its API-server connections alive: 100 requests in a row ride very few of them
    remotes = {x["remote"] for x in standin.requests_since(seq)["items"] if x["uri"].endswith(probe)}
    assert 1 <= len(remotes) <= 4, f"100 sequential requests used {len(remotes)} connections to the API server"
    metrics = gateway.request("GET", "/metrics").body
    exchanges, calls = _metric(metrics, "sluice_tunnel_exchanges_total", cluster), _metric(metrics, "sluice_tunnel_calls_total", cluster)
    assert exchanges and exchanges[0] >= 100, f"expected at least 100 exchanges, metrics say {exchanges}"
    # without reuse every request opens a call (100+); with it: the idle pool (4) and one replacement
    # (5 measured), plus a few asked for if a request comes before the agent's first calls arrive
    assert calls and calls[0] <= 12, f"100 sequential requests opened {calls} Exchange calls: calls are not reused"

    # a HEAD response has headers only: it must not hang waiting for the body its length announces,
    # and the connection stays usable for the next request
    conn.request("HEAD", url, headers=auth)
    head = conn.getresponse()
    head.read()
    assert head.getheader("Content-Length"), "the stand-in answers HEAD with 405 and a length, like a body would have"
    conn.request("GET", url, headers=auth)
    after = conn.getresponse()
    after.read()
    assert after.status == 200, f"the request after a HEAD failed: {after.status}"
    conn.close()

    # a request body larger than one tunnel frame (64 KiB) goes as head, body frames and end
    name = f"reuse-big-{uuid.uuid4().hex[:6]}"
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"data":{"y":"%s"}}' % (name, "y" * 200000)
    try:
        r = gateway.request("POST", "/clusters/c1/api/v1/namespaces/default/configmaps", token=gateway.bot_token,
                            headers={"Content-Type": "application/json"}, body=body)
        assert r.status == 201, f"creating a 200 KB ConfigMap through the gateway: {r}"
        got = kubectl(kubeconfig, "get", "cm", "-n", "default", name, "-o", "jsonpath={.data.y}").stdout
        assert len(got) == 200000, "the body arrived cut"
    finally:
        kubectl(kubeconfig, "delete", "cm", "-n", "default", name, check=False)


def test_a_draining_agent_finishes_what_it_carries_then_exits(gateway, standin, standin_kubeconfig, extra_cluster):
    # SIGTERM: the agent stops taking exchanges (the gateway answers 503 at once), lets the one in
    # flight finish, and exits as soon as it has, before its grace period (5 s) is over.
    cluster, ns = f"drainer{uuid.uuid4().hex[:6]}", f"gw-drain-{uuid.uuid4().hex[:6]}"
    drainer_kc, _ = extra_cluster(cluster)
    kubectl(standin_kubeconfig, "create", "ns", ns)
    try:
        kubectl(standin_kubeconfig, "run", "box", "-n", ns, "--image=busybox", "--", "sleep", "3600")
        seq = standin.seq()
        exec_ = subprocess.Popen(["kubectl", "--kubeconfig", drainer_kc, "exec", "-n", ns, "box", "--", "sh", "-c",
                                  "sleep 3; echo done"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_until(lambda: [x for x in standin.requests_since(seq)["items"] if "/exec" in x["uri"]], timeout=10,
                   what="the exec reaching the stand-in")
        pid = gateway.agent_pid(cluster)
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: gateway.request("GET", f"/clusters/{cluster}/api/v1/namespaces",
                                           token=gateway.bot_token).status == 503,
                   timeout=5, what="a draining agent refusing new requests")
        assert _alive(pid), "the agent exited before its exchange in flight finished"
        out, _ = exec_.communicate(timeout=30)
        assert exec_.returncode == 0, f"the exec in flight failed during the drain: {out}"
        assert out == "done\n", f"exec output: {out}"
        wait_until(lambda: not _alive(pid), timeout=5, what="the agent exiting after draining")
        assert "grace period over" not in read(os.path.join(gateway.dir, f"agent-{cluster}.log")), \
            "the agent waited for its grace period instead of exiting when drained"
    finally:
        kubectl(standin_kubeconfig, "delete", "ns", ns, "--wait=false", check=False)


def test_the_agent_in_a_pod_follows_its_rotating_serviceaccount_token(gateway, standin, tmp_path):
    # The agent as it runs in a pod: KUBERNETES_SERVICE_HOST/PORT and a ServiceAccount directory
    # whose token the kubelet rotates (a new file renamed over the old one).
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    shutil.copy(os.path.join(standin.dir, "ca.crt"), sa / "ca.crt")
    shutil.copy(os.path.join(standin.dir, "token"), sa / "token")
    cluster = f"incluster{uuid.uuid4().hex[:6]}"
    token_file = os.path.join(gateway.dir, f"agent-{cluster}.token")
    with open(token_file, "w") as f:
        f.write(gateway.cli("cluster", "add", cluster).stdout)
    log = tmp_path / "agent.log"
    environment = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=read(os.path.join(standin.dir, "port")).strip())
    with open(log, "w") as out:
        agent = subprocess.Popen([gateway.agent_bin, "--gateway", f"127.0.0.1:{gateway.agent_port}", "--cluster", cluster,
                                  "--token-file", token_file, "--gateway-ca", gateway.ca, "--serviceaccount-dir", str(sa)],
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment)
    try:
        wait_until(lambda: re.search(r"tunnel .* open", read(log)), timeout=10, what="the in-cluster agent connecting")
        url = f"/clusters/{cluster}/api/v1/namespaces/default"
        assert gateway.request("GET", url, token=gateway.bot_token).status == 200
        (sa / "token.new").write_text("rotated-but-not-accepted\n")
        os.rename(sa / "token.new", sa / "token")
        code = gateway.request("GET", url, token=gateway.bot_token).status
        assert code == 401, f"after the token rotated to one the API server refuses: {code} (the agent kept the old token)"
        shutil.copy(os.path.join(standin.dir, "token"), sa / "token.new")
        os.rename(sa / "token.new", sa / "token")
        assert gateway.request("GET", url, token=gateway.bot_token).status == 200, "after the token rotated back"
        assert re.search(r"token in .* changed", read(log)), "the agent did not log the rotation"
        assert read(os.path.join(standin.dir, "token")).strip() not in read(log), "the agent logged its API server token"
    finally:
        agent.terminate()
        agent.wait(timeout=15)
