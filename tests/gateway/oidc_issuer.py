#!/usr/bin/env python3
"""A test OIDC issuer over HTTPS on 127.0.0.1 (tests only). For each issuer path prefix ("" and
"/ci") it serves /.well-known/openid-configuration and /jwks; the JWKS is read from DIR/jwks.json
on every request so a test can rotate keys, and every JWKS fetch is counted in DIR/jwks_hits.

The "" issuer also logs browsers in (authorization code with PKCE), as a real provider would but
with no login form: /authorize logs in whoever DIR/login.json names ({"claims": {...}}, read per
request; absent: access_denied) and redirects back with a code; /token checks the client
(DIR/client.json: client_id, client_secret, tool, kid), the code (once, 60 s), the redirect URI and
the S256 code verifier, then signs an ID token with `tool mint` (tests/gateway/oidc_tool.cpp).
login.json may also hold "nonce" to sign a wrong one. Token requests land in DIR/token_requests.
Also for kubectl's `sluice-gateway login`: client.json's "public_client_id" is a client without a
secret; codes come with refresh tokens (grant refresh_token rotates them); and the device flow
(RFC 8628): POST /device, then GET /activate?user_code=X logs in whoever login.json names.
Usage: oidc_issuer.py CERT KEY DIR   (writes DIR/port once listening)"""
import base64, hashlib, http.server, json, os, secrets, ssl, subprocess, sys, threading, time
from urllib.parse import parse_qs, urlencode, urlsplit

cert, key, state = sys.argv[1], sys.argv[2], sys.argv[3]
codes, refresh_tokens, devices, lock = {}, {}, {}, threading.Lock()


def read_json(name):
    path = os.path.join(state, name)
    return json.load(open(path)) if os.path.exists(path) else None


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, body, status=200):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        base = f"https://127.0.0.1:{self.server.server_port}"
        url = urlsplit(self.path)
        for prefix in ("/ci", ""):
            if url.path == prefix + "/.well-known/openid-configuration":
                doc = {"issuer": base + prefix, "jwks_uri": base + prefix + "/jwks",
                       "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"]}
                if not prefix:
                    doc.update(authorization_endpoint=base + "/authorize", token_endpoint=base + "/token",
                               device_authorization_endpoint=base + "/device", code_challenge_methods_supported=["S256"])
                return self.send_json(doc)
            if url.path == prefix + "/jwks":
                hits = os.path.join(state, "jwks_hits")
                n = int(open(hits).read()) if os.path.exists(hits) else 0
                open(hits, "w").write(str(n + 1))
                return self.send_json(open(os.path.join(state, "jwks.json"), "rb").read())
        if url.path == "/authorize":
            return self.authorize({k: v[0] for k, v in parse_qs(url.query).items()})
        if url.path == "/activate":
            code, login = parse_qs(url.query).get("user_code", [""])[0], read_json("login.json")
            with lock:
                device = next((d for d in devices.values() if d["user_code"] == code), None)
                if device is not None and login is not None:
                    device["login"] = login
            return self.send_json({"approved": device is not None and login is not None})
        self.send_response(404)
        self.end_headers()

    def authorize(self, q):
        client, login = read_json("client.json") or {}, read_json("login.json")
        if q.get("client_id") not in (client.get("client_id"), client.get("public_client_id")) or not q.get("redirect_uri"):
            return self.send_json({"error": "unauthorized_client"}, 400)
        back = q["redirect_uri"] + "?"
        if login is None:
            return self.redirect(back + urlencode({"error": "access_denied", "error_description": "nobody is logged in",
                                                   "state": q.get("state", "")}))
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return self.redirect(back + urlencode({"error": "invalid_request", "state": q.get("state", "")}))
        code = secrets.token_urlsafe(24)
        with lock:
            codes[code] = dict(q, expires=time.time() + 60, login=login)
        self.redirect(back + urlencode({"code": code, "state": q.get("state", "")}))

    def do_POST(self):
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()).items()}
        if self.path == "/device":
            device_code, user_code = secrets.token_urlsafe(24), secrets.token_hex(4).upper()
            base = f"https://127.0.0.1:{self.server.server_port}"
            with lock:
                devices[device_code] = {"user_code": user_code, "client_id": form.get("client_id"), "login": None,
                                        "expires": time.time() + 300}
            return self.send_json({"device_code": device_code, "user_code": user_code, "verification_uri": base + "/activate",
                                   "verification_uri_complete": f"{base}/activate?user_code={user_code}",
                                   "expires_in": 300, "interval": 1})
        if self.path != "/token":
            self.send_response(404)
            self.end_headers()
            return
        with open(os.path.join(state, "token_requests"), "a") as f:
            f.write(json.dumps({k: v for k, v in form.items() if k not in ("code_verifier", "refresh_token")}) + "\n")
        client = read_json("client.json") or {}
        expected = "Basic " + base64.b64encode(f"{client.get('client_id')}:{client.get('client_secret')}".encode()).decode()
        public = client.get("public_client_id") and form.get("client_id") == client.get("public_client_id")
        if self.headers.get("Authorization") != expected and not public:
            return self.send_json({"error": "invalid_client"}, 401)
        client_id = client["public_client_id"] if public else client["client_id"]
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            with lock:
                grant = refresh_tokens.pop(form.get("refresh_token", ""), None)
            if grant is None or grant["client_id"] != client_id:
                return self.send_json({"error": "invalid_grant"}, 400)
            return self.issue(client, client_id, grant["login"], None)
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            with lock:
                device = devices.get(form.get("device_code", ""))
                if device and device["login"] is not None:
                    devices.pop(form["device_code"])
            if device is None or device["client_id"] != client_id or device["expires"] < time.time():
                return self.send_json({"error": "expired_token"}, 400)
            if device["login"] is None:
                return self.send_json({"error": "authorization_pending"}, 400)
            return self.issue(client, client_id, device["login"], None)
        with lock:
            grant = codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if (grant_type != "authorization_code" or grant is None or grant["expires"] < time.time()
                or grant.get("client_id") != client_id
                or form.get("redirect_uri") != grant["redirect_uri"] or challenge != grant["code_challenge"]):
            return self.send_json({"error": "invalid_grant"}, 400)
        self.issue(client, client_id, grant["login"], grant.get("nonce"))

    def issue(self, client, client_id, login, nonce):
        now = int(time.time())
        claims = dict(login["claims"], iss=f"https://127.0.0.1:{self.server.server_port}", aud=client_id,
                      iat=now, exp=now + int(client.get("id_token_seconds", 300)))
        if login.get("nonce", nonce) is not None:
            claims["nonce"] = login.get("nonce", nonce)
        token = subprocess.run([client["tool"], "mint", state, client["kid"], "RS256", json.dumps(claims)],
                               capture_output=True, text=True, check=True).stdout.strip()
        refresh = secrets.token_urlsafe(24)
        with lock:
            refresh_tokens[refresh] = {"client_id": client_id, "login": login}
        self.send_json({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                        "id_token": token, "refresh_token": refresh})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(os.path.join(state, "port.tmp"), "w") as f:
    f.write(str(server.server_port))
os.rename(os.path.join(state, "port.tmp"), os.path.join(state, "port"))
server.serve_forever()
