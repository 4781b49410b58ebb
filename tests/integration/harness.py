"""What the integration tests drive: gateways, agents and stand-ins as real processes, HTTPS
requests with real TLS, and the audit database.

Processes are started by scripts/lib/{gateway,standin,pg}.sh, the same functions the
demo and ctest's fixtures use, so there is one way to start each binary.
"""
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time

import h2.config
import h2.connection
import h2.events
import psycopg2

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run through ctest")
    return value


def shell_lib(function, *args):
    """Runs one function of scripts/lib/{gateway,standin,pg}.sh; its output, or AssertionError."""
    script = "".join(f'source "{ROOT}/scripts/lib/{lib}.sh"; ' for lib in ("gateway", "standin", "pg")) + '"$@"'
    out = subprocess.run(["bash", "-c", script, "lib", function, *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"{function} {' '.join(args)} failed: {out.stderr}{out.stdout}")
    return out.stdout


def wait_until(condition, timeout=20.0, what="the condition"):
    """Polls `condition` until it returns something true, which is returned; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def approval_id(message):
    """The id in the gateway's "approval required: id ..., review at ..." answer (async mode)."""
    found = re.search(r"approval required: id ([0-9a-f-]*), review at", message)
    return found.group(1) if found else None


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self):
        return f"<{self.status} {self.body[:400]!r}>"


class _TlsConnection(http.client.HTTPSConnection):
    """To 127.0.0.1, with a TLS server name of the caller's choice (curl --resolve NAME:PORT:127.0.0.1)."""

    def __init__(self, port, context, server_name):
        super().__init__("127.0.0.1", port, context=context, timeout=30)
        self.server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name or self.host)


def https(port, ca_file, method, path, token=None, headers=None, body=None, server_name=None):
    """One request over a fresh TLS connection, as curl would send it."""
    context = ssl.create_default_context(cafile=ca_file)
    conn = _TlsConnection(port, context, server_name)
    sent = dict(headers or {})
    if server_name:
        sent.setdefault("Host", f"{server_name}:{port}")
    if token:
        sent["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=body, headers=sent)
        r = conn.getresponse()
        return Response(r.status, _headers(r), r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def _headers(r):
    """Lower-cased names; repeated Set-Cookie headers joined by newlines (a dict keeps one)."""
    out = {}
    for k, v in r.getheaders():
        k = k.lower()
        out[k] = out[k] + "\n" + v if k == "set-cookie" and k in out else v
    return out


def http_plain(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


class Database:
    """The gateway's PostgreSQL database: sql.count("SELECT count(*) ...") and friends."""

    def __init__(self, url):
        self.url = url
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True

    def rows(self, sql, *params):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def execute(self, sql, *params):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def value(self, sql, *params):
        rows = self.rows(sql, *params)
        return rows[0][0] if rows else None

    def add_unchained_audit_rows(self, cluster, n):
        """n audit rows of `cluster`, one a second back from now, outside any hash chain (as rows
        from before the chain existed): more rows than a page, cheaply."""
        self.execute("""INSERT INTO audit_events (received_at, id, cluster, username, auth_method, source_ip, verb,
                                                   request_uri, decision)
                        SELECT now() - make_interval(secs => g), gen_random_uuid(), %s, 'filler', 'static-token',
                               '127.0.0.1', 'get', '/api', 'allowed' FROM generate_series(1, %s) g""", cluster, n)

    def close(self):
        self.conn.close()


class Gateway:
    """A sluice-gateway's directory as gateway_setup/gateway_start leave it."""

    def __init__(self, directory):
        self.dir = directory
        self.bin = env("SLUICE_GATEWAY_BIN")
        self.agent_bin = env("SLUICE_AGENT_BIN")

    def file(self, name):
        return read(os.path.join(self.dir, name)).strip()

    @property
    def port(self):
        return int(self.file("https_port"))

    @property
    def agent_port(self):
        return int(self.file("agent_port"))

    @property
    def ca(self):
        return os.path.join(self.dir, "certs", "ca.crt")

    @property
    def config(self):
        return os.path.join(self.dir, "gateway.yaml")

    @property
    def bot_token(self):
        return self.file("bot.token")

    @property
    def reviewer_token(self):
        return self.file("reviewer.token")

    @property
    def database_url(self):
        return re.search(r'^  url: "(.*)"$', read(self.config), re.M).group(1)

    def log(self):
        return read(os.path.join(self.dir, "gateway.log"))

    def request(self, method, path, token=None, headers=None, body=None, server_name=None):
        return https(self.port, self.ca, method, path, token, headers, body, server_name)

    def cli(self, *args, check=True):
        """sluice-gateway SUBCOMMAND ... --config this gateway's file."""
        out = subprocess.run([self.bin, *args, "--config", self.config], capture_output=True, text=True, timeout=60)
        if check and out.returncode != 0:
            raise AssertionError(f"sluice-gateway {' '.join(args)} failed: {out.stderr}")
        return out

    def reviewer_cli(self, *args, token_file=None, check=True):
        """sluice-gateway approvals/approve/reject/... over this gateway's REST API, as the reviewer
        (alice-reviewer) unless another token file is given."""
        environment = dict(os.environ, SLUICE_SERVER=f"https://127.0.0.1:{self.port}", SLUICE_CA_FILE=self.ca,
                           SLUICE_TOKEN_FILE=token_file or os.path.join(self.dir, "reviewer.token"))
        out = subprocess.run([self.bin, *args], capture_output=True, text=True, timeout=60, env=environment)
        if check and out.returncode != 0:
            raise AssertionError(f"sluice-gateway {' '.join(args)} failed: {out.stderr}")
        return out

    def pending_approval(self, cluster, *filters, resource=None):
        """The id of the newest pending approval of `cluster` (of `resource`), or None: as the reviewer
        sees it through `sluice-gateway approvals --pending FILTERS`."""
        items = json.loads(self.reviewer_cli("approvals", "--pending", *filters, "-o", "json").stdout)["items"]
        return next((a["id"] for a in items if a["cluster"] == cluster and resource in (None, a["resource"])), None)

    def approval(self, approval_id):
        return json.loads(self.reviewer_cli("approvals", "show", approval_id, "-o", "json").stdout)

    def kubeconfig_for(self, cluster, path, token_file=None):
        text = shell_lib("gateway_kubeconfig", self.bin, self.dir, cluster, token_file or os.path.join(self.dir, "bot.token"))
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_agent(self, cluster, upstream_kubeconfig):
        shell_lib("agent_start", self.bin, self.agent_bin, self.dir, cluster, upstream_kubeconfig)

    def stop_agent(self, cluster):
        shell_lib("agent_stop", self.dir, cluster)

    def agent_pid(self, cluster):
        return int(self.file(f"agent-{cluster}.pid"))

    def start(self):
        shell_lib("gateway_start", self.bin, self.dir)

    def stop(self):
        shell_lib("gateway_stop", self.dir)

    def restart(self):
        """Stops the gateway (not its agents) and starts it on the ports it had; agents reconnect."""
        shell_lib("_stop_pidfile", os.path.join(self.dir, "gateway.pid"))
        text = read(self.config)
        text = re.sub(r"^listen: .*$", f"listen: 127.0.0.1:{self.port}", text, flags=re.M)
        text = re.sub(r"^agent_listen: .*$", f"agent_listen: 127.0.0.1:{self.agent_port}", text, flags=re.M)
        with open(self.config, "w") as f:
            f.write(text)
        self.start()


class Standin:
    """An apiserver-stand-in's directory (standin_start)."""

    def __init__(self, directory):
        self.dir = directory

    @property
    def kubeconfig(self):
        return os.path.join(self.dir, "kubeconfig")

    def requests_since(self, seq):
        out = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, "get", "--raw", f"/_standin/requests?since={seq}"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return json.loads(out)

    def seq(self):
        return self.requests_since(999999999)["lastSeq"]


class Background:
    """A command running beside the test (a held kubectl, a watch), its output in a file."""

    def __init__(self, argv, path, env=None):
        self.path = path
        self._out = open(path, "w")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, env=env)

    def running(self):
        return self.proc.poll() is None

    def still_running_after(self, seconds):
        """True when it has not ended within `seconds` (for "it keeps waiting" checks)."""
        try:
            self.proc.wait(timeout=seconds)
            return False
        except subprocess.TimeoutExpired:
            return True

    def wait(self, timeout=60):
        code = self.proc.wait(timeout=timeout)
        self._out.close()
        return code

    def output(self):
        return read(self.path)

    def stop(self):
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def kubectl_in_background(kubeconfig, path, *args):
    return Background(["kubectl", "--kubeconfig", kubeconfig, *args], path)


class Issuer:
    """tests/gateway/oidc_issuer.py (HTTPS on 127.0.0.1) with keys made by oidc_tool, tokens minted
    per check. start() makes the keys, publishes `published` in the JWKS and waits for the port;
    as a login provider it logs in whoever login_as() names, for the client client() sets."""

    def __init__(self, directory):
        self.dir, self.tool, self.process = directory, env("SLUICE_OIDC_TOOL"), None
        os.makedirs(self.dir, exist_ok=True)

    def run(self, *args):
        return subprocess.run([self.tool, *args], capture_output=True, text=True, check=True).stdout

    def jwks(self, *kids):
        with open(os.path.join(self.dir, "jwks.json"), "w") as f:
            f.write(self.run("jwks", self.dir, *kids))

    def mint(self, kid, alg, claims, header=None):
        return self.run("mint", self.dir, kid, alg, json.dumps(claims), *([json.dumps(header)] if header else [])).strip()

    def hits(self):
        return int(read(os.path.join(self.dir, "jwks_hits")).strip() or 0)

    def start(self, keys=(("rsa-1", "RSA"),), published=("rsa-1",)):
        subprocess.run([env("SLUICE_GATEWAY_BIN"), "certs", "--dir", f"{self.dir}/certs"], check=True, capture_output=True)
        for kid, kind in keys:
            self.run("keygen", self.dir, kid, kind)
        self.jwks(*published)
        self.process = subprocess.Popen(["python3", os.path.join(ROOT, "tests", "gateway", "oidc_issuer.py"),
                                         self.cert, f"{self.dir}/certs/tls.key", self.dir])
        wait_until(lambda: os.path.exists(f"{self.dir}/port"), timeout=10, what="the test issuer starting")
        return self

    def stop(self):
        if self.process:
            self.process.kill()
            self.process.wait()

    @property
    def url(self):
        return f"https://127.0.0.1:{read(f'{self.dir}/port').strip()}"

    @property
    def cert(self):
        return f"{self.dir}/certs/tls.crt"

    @property
    def ca(self):
        return f"{self.dir}/certs/ca.crt"

    def client(self, client_id="sluice-ui", secret="s3cret-ui", kid="rsa-1"):
        """The UI's client at this issuer (and kubectl's, a public client); returns the path of a
        file holding the UI client's secret."""
        with open(os.path.join(self.dir, "client.json"), "w") as f:
            json.dump({"client_id": client_id, "client_secret": secret, "tool": self.tool, "kid": kid,
                       "public_client_id": "kubectl"}, f)
        path = os.path.join(self.dir, "client.secret")
        with open(path, "w") as f:
            f.write(secret + "\n")
        return path

    def login_as(self, email, groups=(), nonce=None):
        """Who the next browser to reach /authorize is; None: nobody (access_denied)."""
        path = os.path.join(self.dir, "login.json")
        if email is None:
            if os.path.exists(path):
                os.remove(path)
            return
        login = {"claims": {"sub": "sub-" + email.split("@")[0], "email": email, "email_verified": True,
                            "groups": list(groups)}}
        if nonce is not None:
            login["nonce"] = nonce
        with open(path, "w") as f:
            json.dump(login, f)

    def token_requests(self):
        path = os.path.join(self.dir, "token_requests")
        return [json.loads(x) for x in read(path).splitlines()] if os.path.exists(path) else []

    def ui_auth_config(self, client_id="sluice-ui", name="Test IdP"):
        """The auth.oidc entry (indented for under `auth:`) of a gateway whose UI logs in here."""
        secret = self.client(client_id)
        return f"""  oidc:
  - issuer: "{self.url}"
    audiences: [kubernetes, {client_id}, kubectl]
    username_claim: email
    username_prefix: "oidc:"
    groups_claim: groups
    ca_file: {self.ca}
    client_id: {client_id}
    client_secret_file: {secret}
    display_name: {name}
"""


class H2Client:
    """One TLS connection speaking h2 to the gateway as the bot."""

    def __init__(self, gw, token=None, validate=True):
        context = ssl.create_default_context(cafile=gw.ca)
        context.set_alpn_protocols(["h2", "http/1.1"])
        raw = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
        self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8", validate_outbound_headers=validate,
            normalize_outbound_headers=validate))
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(1 << 30)  # the connection never limits, as Go's client
        self.flush()
        self.token = token if token is not None else gw.bot_token
        self.authority = f"127.0.0.1:{gw.port}"
        self.streams = {}
        self.stalled = set()  # streams whose window is never opened again
        self.goaway = None
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method, path, body=None, headers=(), end=True):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":path", path), (":scheme", "https"), (":authority", self.authority)]
        if self.token:
            fields.append(("authorization", f"Bearer {self.token}"))
        fields += list(headers)
        self.streams[sid] = {"status": None, "headers": {}, "data": bytearray(), "ended": False, "reset": None}
        self.conn.send_headers(sid, fields, end_stream=end and body is None)
        if body is not None:
            for at in range(0, len(body), 16384):  # within the default frame size
                self.conn.send_data(sid, body[at:at + 16384], end_stream=end and at + 16384 >= len(body))
        self.flush()
        return sid

    def pump(self, until, timeout=30, what="the condition"):
        deadline = time.time() + timeout
        while not until():
            if self.closed:
                raise AssertionError(f"the connection closed before {what}")
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                self.closed = True
                continue
            for event in self.conn.receive_data(data):
                self._on(event)
            try:
                self.flush()
            except OSError:  # the gateway closed meanwhile (ssl.SSLError is one): what it sent is read on
                pass

    def _on(self, event):
        s = self.streams.get(getattr(event, "stream_id", None))
        if isinstance(event, h2.events.ResponseReceived):
            s["headers"] = dict(event.headers)
            s["status"] = int(s["headers"][":status"])
        elif isinstance(event, h2.events.DataReceived):
            s["data"] += event.data
            if event.stream_id in self.stalled:
                self.conn.increment_flow_control_window(event.flow_controlled_length)  # the connection's only
            else:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            s["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            s["reset"] = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event.error_code
            self.closed = True

    def unstall(self, sid):
        self.stalled.discard(sid)
        self.conn.increment_flow_control_window(1 << 24, stream_id=sid)
        self.flush()

    def get(self, path, **kw):
        sid = self.request("GET", path, **kw)
        self.pump(lambda: self.streams[sid]["ended"] or self.streams[sid]["reset"] is not None, what=f"GET {path}")
        return self.streams[sid]

    def events(self, sid):
        """The watch events that came whole (a line may still be arriving)."""
        lines = bytes(self.streams[sid]["data"]).split(b"\n")[:-1]
        return [json.loads(line) for line in lines if line.strip()]

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except OSError:
            pass
        self.sock.close()
