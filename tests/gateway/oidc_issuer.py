#!/usr/bin/env python3
"""A test OIDC issuer over HTTPS on 127.0.0.1 (tests only). Serves, for each issuer path prefix
("" and "/ci"), /.well-known/openid-configuration and /jwks; the JWKS is read from DIR/jwks.json
on every request so a test can rotate keys, and every JWKS fetch is counted in DIR/jwks_hits.
Usage: oidc_issuer.py CERT KEY DIR   (writes DIR/port once listening)"""
import http.server, json, os, ssl, sys

cert, key, state = sys.argv[1], sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, body):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        base = f"https://127.0.0.1:{self.server.server_port}"
        for prefix in ("/ci", ""):
            if self.path == prefix + "/.well-known/openid-configuration":
                return self.send_json({"issuer": base + prefix, "jwks_uri": base + prefix + "/jwks",
                                       "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"]})
            if self.path == prefix + "/jwks":
                hits = os.path.join(state, "jwks_hits")
                n = int(open(hits).read()) if os.path.exists(hits) else 0
                open(hits, "w").write(str(n + 1))
                return self.send_json(open(os.path.join(state, "jwks.json"), "rb").read())
        self.send_response(404)
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(os.path.join(state, "port.tmp"), "w") as f:
    f.write(str(server.server_port))
os.rename(os.path.join(state, "port.tmp"), os.path.join(state, "port"))
server.serve_forever()
