"""HTTP/2 on the client listener: ALPN picks h2 for kubectl and client-go (exec stays on HTTP/1.1),
a controller's watches share one connection with flow control per stream (a stalled watch holds
back nobody else), limits answer with a Status, and a client that resets streams before they are
answered is cut off (rapid reset, CVE-2023-44487). The client here is hyper-h2 (python3-h2),
driven frame by frame."""
import json
import os
import re
import socket
import ssl
import time
import uuid

import h2.errors

from conftest import MASKED_B64, kubectl
from harness import H2Client


def _h2_connections(gw):
    m = re.search(r'^sluice_connections_total\{protocol="h2"\} (\d+)$', gw.request("GET", "/metrics").body, re.M)
    return int(m.group(1))


def test_kubectl_speaks_h2_and_exec_stays_on_http1(own_gateway, standin, tmp_path):
    # kubectl's requests, masking and recording included, go over one h2 connection; its exec
    # upgrades on HTTP/1.1 as client-go does, through the same gateway.
    tag = uuid.uuid4().hex[:8]
    cluster, ns = f"h2k{tag}", f"h2k-{tag}"
    gw = own_gateway(cluster, "defaultAction: allow\n")
    kubectl(standin.kubeconfig, "create", "ns", ns)
    try:
        before = _h2_connections(gw)
        env = dict(os.environ, GODEBUG="http2debug=1")
        value = f"h2v{uuid.uuid4().hex}"
        kubectl(gw.kubeconfig, "-n", ns, "create", "secret", "generic", "s", f"--from-literal=password={value}")
        out = kubectl(gw.kubeconfig, "-n", ns, "get", "secret", "s", "-o", "json", env=env)
        assert "http2: Transport" in out.stderr, out.stderr[-2000:]  # Go's client logs its h2 frames
        assert json.loads(out.stdout)["data"]["password"] == MASKED_B64
        assert value not in out.stdout and value not in out.stderr
        assert _h2_connections(gw) >= before + 2
        kubectl(gw.kubeconfig, "-n", ns, "run", "box", "--image=busybox", "--", "sleep", "3600")
        shown = kubectl(gw.kubeconfig, "-n", ns, "exec", "box", "--", "echo", "over-http1").stdout
        assert "over-http1" in shown
        metrics = gw.request("GET", "/metrics").body
        assert re.search(r'^sluice_connections_total\{protocol="http/1.1"\} [1-9]', metrics, re.M), metrics
    finally:
        kubectl(standin.kubeconfig, "delete", "ns", ns, "--wait=false", check=False)


def test_a_stalled_watch_holds_back_none_of_200_on_its_connection(own_gateway, standin, tmp_path):
    tag = uuid.uuid4().hex[:8]
    cluster, ns, quiet = f"h2w{tag}", f"h2w-{tag}", f"h2s-{tag}"
    gw = own_gateway(cluster, "defaultAction: allow\n")
    for n in (ns, quiet):
        kubectl(standin.kubeconfig, "create", "ns", n)
    client = H2Client(gw)
    try:
        base = f"/clusters/{cluster}/api/v1/namespaces"
        stalled = client.request("GET", f"{base}/{quiet}/configmaps?watch=true")
        client.stalled.add(stalled)
        watches = [client.request("GET", f"{base}/{ns}/configmaps?watch=true&w={i}") for i in range(199)]
        client.pump(lambda: all(client.streams[s]["status"] == 200 for s in watches + [stalled]), timeout=60,
                    what="200 watches answered")
        # The stalled watch's event is far larger than its 64 KiB window: it stops mid-event.
        blob = tmp_path / "blob"
        blob.write_text("x" * (400 * 1024))
        kubectl(standin.kubeconfig, "-n", quiet, "create", "configmap", "big", f"--from-file=blob={blob}")
        client.pump(lambda: len(client.streams[stalled]["data"]) >= 60 * 1024, what="the stalled watch's window filled")
        kubectl(standin.kubeconfig, "-n", ns, "create", "configmap", "after-stall")

        def all_saw_it():
            return all(any(e["object"]["metadata"]["name"] == "after-stall" for e in client.events(s)) for s in watches)
        client.pump(all_saw_it, timeout=60, what="199 watches seeing the event behind the stalled one")
        assert len(client.streams[stalled]["data"]) < 100 * 1024  # still held back by its own window
        client.unstall(stalled)
        client.pump(lambda: any(e["object"]["metadata"]["name"] == "big" for e in client.events(stalled)),
                    what="the stalled watch's event once its window opened")
        # The connection still serves plain requests beside its 200 watches.
        listed = client.get(f"{base}/{ns}/configmaps")
        assert listed["status"] == 200 and b"after-stall" in listed["data"]
    finally:
        client.close()
        for n in (ns, quiet):
            kubectl(standin.kubeconfig, "delete", "ns", n, "--wait=false", check=False)


def test_limits_answer_with_a_status_over_h2(own_gateway):
    tag = uuid.uuid4().hex[:8]
    cluster = f"h2l{tag}"
    gw = own_gateway(cluster, "defaultAction: allow\n",
                     limits="  max_body_bytes: 10000\n  max_header_bytes: 8192\n  header_timeout_seconds: 1\n")
    client = H2Client(gw)
    try:
        path = f"/clusters/{cluster}/api/v1/namespaces/default/configmaps"
        sid = client.request("POST", path, body=b"{" + b" " * 20000 + b"}",
                             headers=[("content-type", "application/json")])
        client.pump(lambda: client.streams[sid]["ended"], what="the 413")
        s = client.streams[sid]
        assert s["status"] == 413 and json.loads(bytes(s["data"]))["reason"] == "RequestEntityTooLarge"
        big = client.get(path, headers=[("x-padding", "p" * 6000), ("x-more", "q" * 3000)])
        assert big["status"] == 431 and json.loads(bytes(big["data"]))["reason"] == "RequestHeaderFieldsTooLarge", big
        anonymous = H2Client(gw, token="")
        try:
            refused = anonymous.get(path)
            assert refused["status"] == 401 and json.loads(bytes(refused["data"]))["kind"] == "Status"
        finally:
            anonymous.close()
        # A request that never ends (headers, then nothing): 408 after 6 header timeouts, as
        # HTTP/1.1's body allowance; the connection's other streams are served meanwhile.
        slow = client.request("POST", path, headers=[("content-type", "application/json")], end=False)
        assert client.get(path)["status"] == 200
        started = time.monotonic()
        client.pump(lambda: client.streams[slow]["status"] is not None, timeout=20, what="the slow request's 408")
        assert client.streams[slow]["status"] == 408, client.streams[slow]
        assert 3 <= time.monotonic() - started <= 9
        assert client.get(path)["status"] == 200  # the connection serves on after each refusal
        # Bytes that are no HTTP/2 connection preface after ALPN chose h2: closed, nothing served.
        context = ssl.create_default_context(cafile=gw.ca)
        context.set_alpn_protocols(["h2"])
        with context.wrap_socket(socket.create_connection(("127.0.0.1", gw.port), timeout=10),
                                 server_hostname="127.0.0.1") as raw:
            raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(4096))
            got = b""
            while True:
                try:
                    chunk = raw.recv(65536)
                except (ConnectionResetError, ssl.SSLError):
                    break
                if not chunk:
                    break
                got += chunk
            assert b"HTTP/1.1 200" not in got
        assert H2Client(gw).get(path)["status"] == 200
    finally:
        client.close()


def test_rapid_reset_closes_the_connection_and_others_are_served(own_gateway):
    tag = uuid.uuid4().hex[:8]
    cluster = f"h2r{tag}"
    gw = own_gateway(cluster, "defaultAction: allow\n", limits="  http2_max_early_resets: 50\n")
    client = H2Client(gw)
    try:
        path = f"/clusters/{cluster}/api/v1/namespaces/default/configmaps"
        # Each stream is opened and reset at once, before any answer: the attack's pattern.
        for _ in range(300):
            if client.closed:
                break
            sid = client.conn.get_next_available_stream_id()
            client.conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "https"),
                                           (":authority", client.authority),
                                           ("authorization", f"Bearer {client.token}")])
            client.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            try:
                client.flush()
            except OSError:
                break
        client.pump(lambda: client.closed, timeout=20, what="the connection closed")
        assert client.goaway == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        metrics = gw.request("GET", "/metrics").body
        assert re.search(r"^sluice_http2_rapid_reset_closes_total 1$", metrics, re.M), metrics
        assert "rapid reset" in gw.log()
        other = H2Client(gw)  # the gateway serves everyone else as before
        try:
            assert other.get(path)["status"] == 200
        finally:
            other.close()
        # Cancelling watches once answered is what controllers do all day: never counted.
        calm = H2Client(gw)
        try:
            for _ in range(80):
                sid = calm.request("GET", f"{path}?watch=true")
                calm.pump(lambda: calm.streams[sid]["status"] is not None, what="a watch answered")
                calm.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                calm.flush()
            assert calm.get(path)["status"] == 200 and not calm.closed
        finally:
            calm.close()
    finally:
        client.close()
