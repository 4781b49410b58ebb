"""OIDC from kubectl, as kubelogin does it: `sluice-gateway kubeconfig --oidc` writes a user whose
exec credential plugin is `sluice-gateway login`. kubectl runs it; it logs in at the test issuer
(authorization code with PKCE on a loopback redirect, or the device flow), caches the tokens
0600 per issuer and client, refreshes them after expiry, and CI pipelines hand it a token file.
No browser opens: $SLUICE_LOGIN_BROWSER is a script that does what the user would (follow the
URL), and records each time it is asked."""
import json
import os
import stat
import subprocess
import uuid
from urllib.parse import quote

from conftest import kubectl

POLICY = "defaultAction: allow\n"


def _browser(tmp_path, idp):
    """The user's browser: follows the URL (the issuer logs in whoever login_as named and redirects
    to the plugin's loopback address), and notes every visit."""
    script = tmp_path / "browser.sh"
    visits = tmp_path / "visits"
    script.write_text(f"#!/bin/sh\necho \"$1\" >> {visits}\nexec curl -s -L --cacert {idp.ca} -o /dev/null \"$1\"\n")
    script.chmod(0o755)
    return str(script), visits


def _setup(own_gateway, idp, tmp_path, *extra):
    cluster = f"oid{uuid.uuid4().hex[:6]}"
    gw = own_gateway(cluster, POLICY, auth_config=idp.ui_auth_config())
    out = gw.cli("kubeconfig", "--cluster", cluster, "--oidc", idp.url, "--client-id", "kubectl",
                 "--server", f"https://127.0.0.1:{gw.port}", *extra)
    path = tmp_path / f"{cluster}.kubeconfig"
    path.write_text(out.stdout)
    browser, visits = _browser(tmp_path, idp)
    env = dict(os.environ, SLUICE_LOGIN_BROWSER=browser, XDG_CACHE_HOME=str(tmp_path / "cache"))
    return gw, str(path), env, visits


def _kubectl(path, env, *args):
    return kubectl(path, *args, check=False, env=env)


def _grants(idp):
    return [r["grant_type"] for r in idp.token_requests()]


def test_kubectl_logs_in_with_pkce_caches_and_refreshes(own_gateway, standin, idp, tmp_path):
    gw, path, env, visits = _setup(own_gateway, idp, tmp_path)
    exec_user = json.loads(_kubectl(path, env, "config", "view", "-o", "json").stdout)["users"][0]["user"]["exec"]
    assert exec_user["command"] == gw.bin and exec_user["args"][:5] == ["login", "--issuer", idp.url, "--client-id", "kubectl"]
    assert exec_user["args"][5:] == ["--ca-file", idp.ca], exec_user  # from the config's auth.oidc entry
    seq, mark = standin.seq(), f"probe=oidc-{uuid.uuid4().hex[:8]}"
    out = _kubectl(path, env, "get", "configmaps", "-n", "default", "-l", mark)
    assert out.returncode == 0, out.stderr
    assert len(visits.read_text().splitlines()) == 1 and "code_challenge_method=S256" in visits.read_text()
    rec = [x for x in standin.requests_since(seq)["items"] if quote(mark) in x["uri"]][-1]
    assert rec["impersonate"]["user"] == "oidc:ann@example.com", rec
    assert _grants(idp) == ["authorization_code"]
    # the cache: one file per issuer and client, readable only by its owner
    cache = tmp_path / "cache" / "sluice" / "oidc"
    files = list(cache.iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600, files
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    cached = json.loads(files[0].read_text())
    assert cached["idToken"].count(".") == 2 and cached["refreshToken"] and cached["expiresAt"] > 0
    # the next kubectl takes the cached token: no browser, no request to the issuer
    assert _kubectl(path, env, "get", "ns", "default", "-o", "name").returncode == 0
    assert len(visits.read_text().splitlines()) == 1 and _grants(idp) == ["authorization_code"]
    # once it has expired, the refresh token gets a new one, still without a browser
    cached["expiresAt"] = 1
    files[0].write_text(json.dumps(cached))
    out = _kubectl(path, env, "get", "ns", "default", "-o", "name")
    assert out.returncode == 0, out.stderr
    assert _grants(idp) == ["authorization_code", "refresh_token"] and len(visits.read_text().splitlines()) == 1
    renewed = json.loads(files[0].read_text())
    assert renewed["refreshToken"] != cached["refreshToken"] and renewed["expiresAt"] > 1
    # a refresh token the issuer no longer honours means logging in again
    renewed["expiresAt"], renewed["refreshToken"] = 1, "revoked"
    files[0].write_text(json.dumps(renewed))
    out = _kubectl(path, env, "get", "ns", "default", "-o", "name")
    assert out.returncode == 0 and "the refresh token was refused (invalid_grant)" in out.stderr, out.stderr
    assert len(visits.read_text().splitlines()) == 2
    # the issuer refuses: kubectl fails with its words
    files[0].unlink()
    idp.login_as(None)
    out = _kubectl(path, env, "get", "ns", "default", "-o", "name")
    assert out.returncode != 0 and "refused the login: access_denied" in out.stderr, out.stderr
    assert "s3cret" not in out.stderr


def test_the_device_flow_and_a_ci_token_file(own_gateway, idp, tmp_path):
    gw, path, env, visits = _setup(own_gateway, idp, tmp_path, "--device")
    out = _kubectl(path, env, "get", "ns", "default", "-o", "name")
    assert out.returncode == 0, out.stderr
    assert "/activate?user_code=" in visits.read_text()
    assert _grants(idp)[-1] == "urn:ietf:params:oauth:grant-type:device_code"
    # CI: the pipeline's own OIDC token, from a file, with no issuer round trip
    token = tmp_path / "ci.token"
    token.write_text(idp.mint("rsa-1", "RS256", {"iss": idp.url, "aud": "kubernetes", "sub": "ci", "email": "ci@example.com",
                                                "email_verified": True, "exp": 4102444800, "iat": 1700000000}) + "\n")
    before = len(idp.token_requests())
    cluster = json.loads(_kubectl(path, env, "config", "view", "-o", "json").stdout)["clusters"][0]["name"]
    out = gw.cli("kubeconfig", "--cluster", cluster, "--oidc", idp.url, "--oidc-token-file", str(token),
                 "--server", f"https://127.0.0.1:{gw.port}")
    ci = tmp_path / "ci.kubeconfig"
    ci.write_text(out.stdout)
    out = _kubectl(str(ci), dict(os.environ), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert out.returncode == 0 and out.stdout == "oidc:ci@example.com", (out.stdout, out.stderr)
    assert len(idp.token_requests()) == before


def test_the_plugin_tells_the_user_what_to_do_on_stderr_only(own_gateway, idp, tmp_path):
    # kubectl shows the plugin's stderr only as it sees fit: run it as kubectl would, alone.
    gw, path, env, visits = _setup(own_gateway, idp, tmp_path)
    out = subprocess.run([gw.bin, "login", "--issuer", idp.url, "--client-id", "kubectl", "--ca-file", idp.ca, "--device"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert "open this address and enter the code" in out.stderr and "/activate?user_code=" in out.stderr
    credential = json.loads(out.stdout)
    assert credential["apiVersion"] == "client.authentication.k8s.io/v1" and credential["kind"] == "ExecCredential"
    assert credential["status"]["token"].count(".") == 2 and credential["status"]["expirationTimestamp"].endswith("Z")
