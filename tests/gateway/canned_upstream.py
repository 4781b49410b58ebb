#!/usr/bin/env python3
"""A stand-in upstream for large responses: serves the files under WWW over HTTPS, each path (the
query is ignored) as application/json in chunks, as kube-apiserver sends a large list. A file
FILE.headers (JSON object) beside FILE replaces or adds response headers (Content-Type,
Content-Encoding), for answers the gateway must refuse to pass on. Every write (POST, PUT, PATCH,
DELETE) is read and then left unanswered: the connection closes, as an API server that dies
mid-request does.
Usage: canned_upstream.py WWW CERT KEY PORT_FILE"""
import http.server
import json
import os
import ssl
import sys

www, cert, key, port_file = sys.argv[1:5]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = os.path.normpath(os.path.join(www, self.path.split("?")[0].lstrip("/")))
        if not path.startswith(www) or not os.path.isfile(path):
            body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        headers = {"Content-Type": "application/json"}
        if os.path.isfile(path + ".headers"):
            headers.update(json.load(open(path + ".headers")))
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with open(path, "rb") as f:
            while True:
                chunk = f.read(64 * 1024)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def drop(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.close_connection = True
        self.connection.shutdown(2)

    do_POST = do_PUT = do_PATCH = do_DELETE = drop


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
