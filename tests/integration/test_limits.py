"""The gateway's limits on what it reads from the network: header and body sizes get a Status, a
slow header is cut off after header_timeout, an idle connection after idle_timeout; and 200
watches with a stalled reader through one tunnel, where flow control holds back only the stalled
stream."""
import signal
import socket
import ssl
import subprocess
import time
import uuid

from conftest import kubectl
from harness import Gateway, read, shell_lib, wait_until


def _closes_after(gw, prefix):
    """Seconds until the gateway closes a TLS connection that sent `prefix` and then nothing."""
    context = ssl.create_default_context(cafile=gw.ca)
    s = context.wrap_socket(socket.create_connection(("127.0.0.1", gw.port)), server_hostname="127.0.0.1")
    start = time.monotonic()
    if prefix:
        s.sendall(prefix)
    s.settimeout(15)
    try:
        while s.recv(4096):
            pass
    except (ssl.SSLError, OSError):
        pass
    finally:
        s.close()
    return time.monotonic() - start


def test_sizes_and_timeouts(gateway, tmp_path):
    # A gateway of its own with tight limits (same database).
    gw = Gateway(str(tmp_path / "gw2"))
    shell_lib("gateway_setup", gateway.bin, gw.dir, gateway.database_url)
    with open(gw.config) as f:
        config = f.read()
    with open(gw.config, "w") as f:
        f.write(config.replace("  exchange_wait_seconds: 10\n", "  exchange_wait_seconds: 10\n  max_header_bytes: 8192\n"
                               "  max_body_bytes: 100000\n  header_timeout_seconds: 1\n  idle_timeout_seconds: 4\n"))
    gw.start()
    try:
        url = "/clusters/c1/api/v1/namespaces/default/configmaps"
        r = gw.request("GET", url, token=gw.bot_token, headers={"X-Padding": "p" * 10000})
        assert r.status == 431 and '"reason":"RequestHeaderFieldsTooLarge"' in r.body
        r = gw.request("POST", url, token=gw.bot_token, headers={"Content-Type": "application/json"}, body="z" * 200000)
        assert r.status == 413 and '"reason":"RequestEntityTooLarge"' in r.body and "100000 bytes" in r.body
        # a request within the limits passes them (and finds no agent of c1 on this gateway)
        assert gw.request("GET", url + "?limit=1", token=gw.bot_token).status == 503
        slow = _closes_after(gw, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert 0.8 <= slow < 3.5, f"a half-sent header was cut off after {slow:.1f}s (header_timeout 1s, idle 4s)"
        idle = _closes_after(gw, b"")
        assert 3.5 <= idle < 10, f"an idle connection was closed after {idle:.1f}s (idle_timeout 4s)"
    finally:
        gw.stop()


def test_a_stalled_watch_holds_back_only_itself(gateway, kubeconfig, standin, tmp_path):
    # 200 watches through one tunnel, a steady stream of GETs meanwhile, and one stalled reader whose
    # watch has ~10 MB pending: more than the socket buffers, the gRPC window and the read-ahead
    # together, so its stream really is held back by flow control while the others flow.
    tag = uuid.uuid4().hex[:6]
    ns, stall = f"gw-many-{tag}", f"gw-stall-{tag}"
    kubectl(kubeconfig, "create", "ns", ns)
    kubectl(kubeconfig, "create", "ns", stall)
    curl = ["curl", "-sS", "-N", "--cacert", gateway.ca, "-H", f"Authorization: Bearer {gateway.bot_token}"]
    base = f"https://127.0.0.1:{gateway.port}/clusters/c1/api/v1/namespaces"
    watchers, outputs = [], []
    stalled = None
    try:
        seq = standin.seq()
        for i in range(200):
            path = tmp_path / f"w{i}.out"
            outputs.append(path)
            with open(path, "w") as out:
                watchers.append(subprocess.Popen(curl + [f"{base}/{ns}/configmaps?watch=true"], stdout=out,
                                                 stderr=subprocess.DEVNULL))
        stalled_out = tmp_path / "stalled.out"
        with open(stalled_out, "w") as out:
            stalled = subprocess.Popen(curl + [f"{base}/{stall}/configmaps?watch=true"], stdout=out, stderr=subprocess.STDOUT)
        def watching(namespace):
            return len([x for x in standin.requests_since(seq)["items"]
                        if x["uri"].startswith(f"/api/v1/namespaces/{namespace}/configmaps?watch=true")])
        wait_until(lambda: watching(ns) == 200 and watching(stall) == 1, timeout=30,
                   what="all 201 watches reaching the cluster")
        stalled.send_signal(signal.SIGSTOP)  # it stops reading; its TCP and gRPC windows fill up
        big = "x" * 250000
        for i in range(1, 41):
            kubectl(kubeconfig, "create", "-n", stall, "-f", "-",
                    stdin='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big-%d"},"data":{"x":"%s"}}' % (i, big))
        gets_ok = sum(kubectl(kubeconfig, "get", "ns", "default", "-o", "name", check=False).returncode == 0 for _ in range(20))
        assert gets_ok == 20, f"only {gets_ok} of 20 GETs succeeded while 200 watches were open"
        kubectl(kubeconfig, "create", "cm", "-n", ns, "last-one")
        deadline = time.monotonic() + 15
        missing = [p for p in outputs if not _seen(p, '"name":"last-one"', deadline)]
        assert not missing, f"{len(missing)} of 200 watchers never saw the last event (a stalled reader must not block them)"
        assert '"name":"big-40"' not in read(stalled_out), "the stalled reader got everything: the test did not stall it"
        stalled.send_signal(signal.SIGCONT)
        wait_until(lambda: '"name":"big-40"' in read(stalled_out), timeout=30,
                   what="the stalled reader getting every event after it resumed")
    finally:
        if stalled:
            stalled.send_signal(signal.SIGCONT)
            stalled.kill()
        for w in watchers:
            w.kill()
        for w in watchers:
            w.wait()
        kubectl(kubeconfig, "delete", "ns", ns, stall, "--wait=false", check=False)


def _seen(path, text, deadline):
    while True:
        if text in read(path):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
