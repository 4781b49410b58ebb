#!/usr/bin/env python3
"""A failed upgrade must not leave a raw channel open (CVE-2018-1002105).

Sends upgrade requests that the cluster answers without 101 (an exec into a pod that does not
exist, a WebSocket upgrade of a plain list), then writes a second request on the same TLS
connection without any credentials, as an attacker would once a proxy relays raw bytes. The
gateway must close the connection or answer that request itself as a new HTTP request (401: it
carries no token); it must never reach the cluster. The caller checks the stand-in's request log
for the second request's path.

usage: failed_upgrade.py HOST PORT CA_FILE TOKEN CLUSTER MARK
"""
import base64
import os
import socket
import ssl
import sys


def read_response(f):
    """Status code and body of one HTTP/1.1 response; None when the connection ended first."""
    line = f.readline()
    if not line:
        return None
    code = int(line.split()[1])
    headers = {}
    while True:
        h = f.readline()
        if not h or h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if code == 101:
        return code, headers, body
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().split(b";")[0], 16)
            chunk = f.read(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    elif "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    return code, headers, body


def attempt(host, port, ctx, first):
    raw = socket.create_connection((host, port), timeout=20)
    tls = ctx.wrap_socket(raw, server_hostname=host)
    f = tls.makefile("rb")
    tls.sendall(first)
    answer = read_response(f)
    if answer is None:
        sys.exit("the gateway closed the connection without answering the upgrade request")
    code, headers, body = answer
    if code == 101:
        sys.exit("the upgrade was expected to fail, but the gateway answered 101")
    # The smuggled request: no token, a path of the cluster's own API (as a raw channel would see it).
    mark = sys.argv[6]
    smuggled = (f"GET /api/v1/namespaces/kube-system/secrets?{mark}=1 HTTP/1.1\r\nHost: {host}\r\n"
                "Accept: application/json\r\n\r\n").encode()
    try:
        tls.sendall(smuggled)
        second = read_response(f)
    except (ConnectionError, ssl.SSLError, socket.timeout):
        second = None
    tls.close()
    if second is not None and second[0] not in (400, 401, 404):
        sys.exit(f"after a failed upgrade ({code}) the next request on the connection was answered "
                 f"{second[0]}: {second[2][:300]!r}")
    return code, None if second is None else second[0]


def main():
    host, port, ca, token, cluster = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    ctx = ssl.create_default_context(cafile=ca)
    key = base64.b64encode(os.urandom(16)).decode()
    ws = (f"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n")
    cases = {
        "exec into a missing pod": f"GET /clusters/{cluster}/api/v1/namespaces/default/pods/no-such-pod-{os.getpid()}"
                                   "/exec?command=id&stdout=true HTTP/1.1\r\n",
        "upgrade of a plain list": f"GET /clusters/{cluster}/api/v1/namespaces HTTP/1.1\r\n",
    }
    for name, line in cases.items():
        first = (line + f"Host: {host}\r\nAuthorization: Bearer {token}\r\n" + ws + "\r\n").encode()
        code, second = attempt(host, port, ctx, first)
        print(f"{name}: {code}, then {'closed' if second is None else second}")


if __name__ == "__main__":
    main()
