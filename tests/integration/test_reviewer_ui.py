"""The reviewer UI's server side at /ui/: its pages and their security headers, logins into
PostgreSQL-backed sessions with a strict cookie, CSRF on every state change, and an approval given
through it releasing a held kubectl. (The browser tests of the pages come with the front end.)"""
import http.client
import json
import re
import ssl
import uuid
from urllib.parse import parse_qs, urlsplit

from conftest import kubectl
from harness import Issuer, https, kubectl_in_background, wait_until

POLICY = """rules:
  - name: cluster-rbac
    match: {verbs: [create], resources: [clusterrolebindings]}
    action: approve
    message: cluster-wide RBAC needs a reviewer
    approval: {approvers: {groups: [sluice-reviewers]}, timeout: 10m}
"""
JSON = {"Content-Type": "application/json"}


class Browser:
    """What a browser keeps for one origin: the session cookie (HttpOnly: the page never reads it)."""

    def __init__(self, gw):
        self.gw, self.cookie, self.csrf = gw, None, None

    def call(self, method, path, body=None, headers=None, csrf=True):
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = f"sluice_ui={self.cookie}"
        if csrf and self.csrf and method != "GET":
            sent["X-CSRF-Token"] = self.csrf
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        r = self.gw.request(method, path, headers=sent, body=None if body is None else json.dumps(body))
        set_cookie = r.headers.get("set-cookie", "")
        if set_cookie.startswith("sluice_ui="):
            self.cookie = set_cookie.split(";")[0].split("=", 1)[1] or None
        return r

    def login(self, token):
        r = self.call("POST", "/ui/api/login", {"token": token})
        if r.status == 200:
            self.csrf = json.loads(r.body)["csrfToken"]
        return r


def test_pages_carry_a_strict_content_security_policy(gateway):
    for path in ("/ui/", "/ui/approvals/some-id"):  # a page of the app is its one document
        r = gateway.request("GET", path)
        assert r.status == 200 and r.headers["content-type"].startswith("text/html"), (path, r)
        assert '<script type="module" src="/ui/app.js">' in r.body
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        sources = csp.replace(";", " ").split()
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, csp
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-content-type-options"] == "nosniff"
    for bundled in ("/ui/vendor.js", "/ui/vendor.css"):  # the npm packages, bundled at build time
        r = gateway.request("GET", bundled)
        assert r.status == 200 and len(r.body) > 10000, (bundled, r.status)
    r = gateway.request("GET", "/ui/app.js")
    assert r.status == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in r.body.replace("nothing here assigns innerHTML", ""), "the page writes markup from data"
    r = gateway.request("GET", "/ui")
    assert r.status == 302 and r.headers["location"] == "/ui/"
    r = gateway.request("GET", "/ui/missing.js")
    assert r.status == 404 and json.loads(r.body)["kind"] == "Status"
    assert "content-security-policy" in r.headers
    assert gateway.request("POST", "/ui/", body="x").status == 405


def test_logins_become_sessions_with_a_strict_cookie(gateway, db):
    b = Browser(gateway)
    r = b.call("GET", "/ui/api/session")
    assert r.status == 401 and "log in at /ui/" in r.body and json.loads(r.body)["kind"] == "Status"
    # a cross-site form cannot log a browser in: not JSON, or another Origin
    r = gateway.request("POST", "/ui/api/login", headers={"Content-Type": "application/x-www-form-urlencoded"},
                        body="token=" + gateway.reviewer_token)
    assert r.status == 403 and "set-cookie" not in r.headers
    r = gateway.request("POST", "/ui/api/login", headers={**JSON, "Origin": "https://evil.example"},
                        body=json.dumps({"token": gateway.reviewer_token}))
    assert r.status == 403 and "set-cookie" not in r.headers
    assert b.login("wrong").status == 401 and b.cookie is None
    assert gateway.request("POST", "/ui/api/login", headers=JSON, body="[1]").status == 400

    r = b.login(gateway.reviewer_token)
    assert r.status == 200, r
    cookie = r.headers["set-cookie"]
    assert re.fullmatch(r"sluice_ui=[0-9a-f]{64}; Path=/ui; Max-Age=28800; HttpOnly; Secure; SameSite=Strict", cookie), cookie
    me = json.loads(r.body)
    assert me["user"] == "alice-reviewer" and me["groups"] == ["sluice-reviewers"] and me["method"] == "static-token"
    assert json.loads(b.call("GET", "/ui/api/session").body)["user"] == "alice-reviewer"
    # the database holds the cookie's hash only, and the identity the login established
    rows = db.rows("SELECT id_hash, identity FROM ui_sessions WHERE identity->>'user' = 'alice-reviewer' AND ended_at IS NULL")
    assert rows and all(b.cookie not in json.dumps([str(v) for v in row]) for row in rows)
    # the cookie authenticates nothing outside /ui/
    r = gateway.request("GET", "/clusters/c1/api/v1/namespaces", headers={"Cookie": f"sluice_ui={b.cookie}"})
    assert r.status == 401
    r = gateway.request("GET", "/api/v1/approvals", headers={"Cookie": f"sluice_ui={b.cookie}"})
    assert r.status == 401

    # logging out needs the CSRF token too; afterwards the cookie opens nothing
    assert b.call("POST", "/ui/api/logout", csrf=False).status == 403
    old = b.cookie
    r = b.call("POST", "/ui/api/logout")
    assert r.status == 200 and r.headers["set-cookie"].startswith("sluice_ui=; Path=/ui; Max-Age=0")
    r = gateway.request("GET", "/ui/api/session", headers={"Cookie": f"sluice_ui={old}"})
    assert r.status == 401 and "ended or expired" in r.body


def test_an_approval_given_in_the_ui_releases_the_held_request(own_gateway, standin, tmp_path):
    cluster, tag = f"ui{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, POLICY)
    held = kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "create", "clusterrolebinding", f"ui-{tag}",
                                 "--clusterrole=view", "--user=someone")
    try:
        reviewer, bot = Browser(gw), Browser(gw)
        assert reviewer.login(gw.reviewer_token).status == 200
        assert bot.login(gw.bot_token).status == 200

        def pending():
            items = json.loads(reviewer.call("GET", "/ui/api/approvals?state=pending").body)["items"]
            return next((a for a in items if a["cluster"] == cluster), None)
        a = wait_until(pending, what="the held request in the UI's queue")
        assert (a["verb"], a["resource"], a["rule"]) == ("create", "clusterrolebindings", "cluster-rbac")
        assert a["kubectlCommand"] == "kubectl create clusterrolebinding", a
        path = f"/ui/api/approvals/{a['id']}"

        # the requester may read its request but never decide it
        assert bot.call("GET", path).status == 200
        r = bot.call("POST", path + "/approve", {"reason": "mine"})
        assert r.status == 403 and "requested this and cannot approve or reject it" in r.body
        # a forged or missing CSRF token is refused before the approvals API sees the vote
        r = reviewer.call("POST", path + "/approve", {"reason": "ok"}, headers={"X-CSRF-Token": "0" * 64}, csrf=False)
        assert r.status == 403 and "CSRF" in r.body
        assert reviewer.call("POST", path + "/approve", {"reason": "ok"}, csrf=False).status == 403
        assert bot.csrf != reviewer.csrf
        r = reviewer.call("POST", path + "/approve", {"reason": "ok"}, headers={"X-CSRF-Token": bot.csrf}, csrf=False)
        assert r.status == 403, "another session's CSRF token was taken"
        assert held.running(), f"kubectl did not wait: {held.output()}"

        r = reviewer.call("POST", path + "/approve", {"reason": "looks right"})
        assert r.status == 200, r
        assert held.wait() == 0, f"kubectl failed after the UI's approval: {held.output()}"
        assert f"clusterrolebinding.rbac.authorization.k8s.io/ui-{tag} created" in held.output()
        shown = json.loads(reviewer.call("GET", path).body)
        assert shown["state"] == "executed" and shown["votes"][0]["approver"] == "alice-reviewer"
        assert shown["votes"][0]["reason"] == "looks right"
    finally:
        held.stop()
        kubectl(standin.kubeconfig, "delete", "clusterrolebinding", f"ui-{tag}", check=False)


def test_the_queue_hears_of_a_held_request_as_a_server_sent_event(own_gateway, standin, tmp_path):
    cluster, tag = f"uie{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    gw = own_gateway(cluster, POLICY)
    reviewer = Browser(gw)
    assert reviewer.login(gw.reviewer_token).status == 200
    assert gw.request("GET", "/ui/api/approvals/events").status == 401  # no session, no stream
    conn = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ssl.create_default_context(cafile=gw.ca), timeout=20)
    conn.request("GET", "/ui/api/approvals/events", headers={"Cookie": f"sluice_ui={reviewer.cookie}"})
    stream = conn.getresponse()
    held = None
    try:
        assert stream.status == 200 and stream.getheader("Content-Type").startswith("text/event-stream")
        assert "frame-ancestors 'none'" in stream.getheader("Content-Security-Policy")
        assert stream.readline() == b"retry: 2000\n" and stream.readline() == b": connected\n"
        held = kubectl_in_background(gw.kubeconfig, tmp_path / "held.out", "create", "clusterrolebinding", f"uie-{tag}",
                                     "--clusterrole=view", "--user=someone")
        event = None
        while event is None:  # the next event names the approval just held (timeout: 20 s per line)
            line = stream.readline()
            assert line, "the event stream ended"
            if line.startswith(b"data: {\"id\""):
                event = json.loads(line[len(b"data: "):])
        shown = json.loads(reviewer.call("GET", f"/ui/api/approvals/{event['id']}").body)
        assert shown["cluster"] == cluster and shown["state"] == "pending"
        reviewer.call("POST", f"/ui/api/approvals/{event['id']}/reject", {"reason": "seen live"})
        assert held.wait() != 0 and "rejected by alice-reviewer: seen live" in held.output()
    finally:
        conn.close()
        if held:
            held.stop()


def test_recordings_are_read_through_the_session_by_viewers_only(gateway):
    reviewer, bot = Browser(gateway), Browser(gateway)
    assert reviewer.login(gateway.reviewer_token).status == 200 and bot.login(gateway.bot_token).status == 200
    r = reviewer.call("GET", "/ui/api/sessions?limit=5")
    assert r.status == 200 and isinstance(json.loads(r.body)["items"], list), r
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    r = bot.call("GET", "/ui/api/sessions")
    assert r.status == 403 and "recording.viewer_groups" in r.body


def _follow_to_the_issuer(gw, idp, start):
    """GET START at the gateway, then the issuer's /authorize: the callback path the issuer sends
    the browser back to, the login cookie the gateway set, and the authorization URL's query."""
    r = gw.request("GET", start)
    assert r.status == 302, (start, r)
    location = r.headers["location"]
    assert location.startswith(idp.url + "/authorize?"), location
    cookie = r.headers["set-cookie"]
    state_cookie = re.match(r"sluice_ui_login=([0-9a-f]{64}); Path=/ui/callback; Max-Age=600; HttpOnly; Secure; "
                            r"SameSite=Lax$", cookie)
    assert state_cookie, cookie
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    port = int(idp.url.rsplit(":", 1)[1])
    back = https(port, idp.ca, "GET", location[len(idp.url):])
    assert back.status == 302, back
    callback = back.headers["location"]
    prefix = f"https://127.0.0.1:{gw.port}"
    assert callback.startswith(prefix + "/ui/callback?"), callback
    return callback[len(prefix):], state_cookie.group(1), query


def test_an_oidc_login_with_pkce_becomes_a_session(own_gateway, tmp_path):
    idp = Issuer(str(tmp_path / "idp")).start()
    try:
        gw = own_gateway(f"uio{uuid.uuid4().hex[:6]}", POLICY, auth_config=idp.ui_auth_config())
        assert json.loads(gw.request("GET", "/ui/api/login/options").body) == {"oidc": [{"id": 0, "name": "Test IdP"}]}
        idp.login_as("ann@example.com", groups=["sluice-reviewers"])
        callback, state, query = _follow_to_the_issuer(gw, idp, "/ui/login/oidc?provider=0&return=/ui/approvals/a1")
        assert query["state"] == state and query["response_type"] == "code" and query["client_id"] == "sluice-ui"
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["redirect_uri"] == f"https://127.0.0.1:{gw.port}/ui/callback"
        assert query["scope"] == "openid email profile" and len(query["nonce"]) == 32
        # the callback only counts in the browser that started the login (login CSRF)
        for cookie in ({}, {"Cookie": "sluice_ui_login=" + "0" * 64}):
            r = gw.request("GET", callback, headers=cookie)
            assert r.status == 403 and "this browser did not start this login" in r.body, r
            assert r.headers["content-type"].startswith("text/plain") and "content-security-policy" in r.headers
        r = gw.request("GET", callback, headers={"Cookie": f"sluice_ui_login={state}"})
        assert r.status == 302 and r.headers["location"] == "/ui/approvals/a1", r
        cookies = r.headers["set-cookie"].split("\n")
        session = re.match(r"sluice_ui=([0-9a-f]{64}); Path=/ui; Max-Age=28800; HttpOnly; Secure; SameSite=Strict$",
                           cookies[0])
        assert session and cookies[1].startswith("sluice_ui_login=; Path=/ui/callback; Max-Age=0"), cookies
        me = json.loads(gw.request("GET", "/ui/api/session", headers={"Cookie": f"sluice_ui={session.group(1)}"}).body)
        # the identity is built as for an API call: the issuer's claims, prefixes and groups
        assert me["user"] == "oidc:ann@example.com" and me["method"] == "oidc", me
        assert me["groups"] == ["sluice-reviewers"], me
        exchange = idp.token_requests()[-1]  # the issuer checked the verifier against the challenge
        assert exchange["grant_type"] == "authorization_code" and exchange["redirect_uri"] == query["redirect_uri"]
        # a callback replayed finds its login taken
        r = gw.request("GET", callback, headers={"Cookie": f"sluice_ui_login={state}"})
        assert r.status == 400 and "expired or was already used" in r.body, r
        # an ID token with another login's nonce opens nothing
        idp.login_as("ann@example.com", groups=["sluice-reviewers"], nonce="f" * 32)
        callback, state, _ = _follow_to_the_issuer(gw, idp, "/ui/login/oidc?provider=0")
        r = gw.request("GET", callback, headers={"Cookie": f"sluice_ui_login={state}"})
        assert r.status == 401 and "set-cookie" in r.headers and "sluice_ui=" not in r.headers["set-cookie"], r
        wait_until(lambda: "nonce is not this login's" in gw.log(), timeout=5, what="the nonce refusal in the log")
        # the provider says no: its words as plain text
        idp.login_as(None)
        callback, state, _ = _follow_to_the_issuer(gw, idp, "/ui/login/oidc?provider=0")
        r = gw.request("GET", callback, headers={"Cookie": f"sluice_ui_login={state}"})
        assert r.status == 401 and "access_denied: nobody is logged in" in r.body, r
        # nothing sends the browser off the UI, or to an issuer that is not configured
        for bad in ("return=https://evil.example/", "return=//evil.example/ui/", "return=/ui/../api/v1/approvals",
                    "return=/elsewhere"):
            r = gw.request("GET", f"/ui/login/oidc?provider=0&{bad}")
            assert r.status == 400 and "location" not in r.headers, (bad, r)
        assert gw.request("GET", "/ui/login/oidc?provider=1").status == 404
        assert gw.request("GET", "/ui/login/oidc?provider=x").status == 404
        assert "s3cret-ui" not in gw.log() and query["code_challenge"] not in gw.log()
    finally:
        idp.stop()
