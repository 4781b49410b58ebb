"""Logging in without a static token: client certificates signed by the configured client CA, and
OIDC tokens from a test issuer (every accepted algorithm, every refusal, key rotation with a
rate-limited refresh, cached keys while the issuer is down)."""
import os
import subprocess
import time
import uuid
from urllib.parse import quote

from conftest import kubectl
from harness import Database, Gateway, Issuer, read, shell_lib, wait_until


def _mint_cert(tmp_path, name, subject, ca_prefix):
    key, csr, crt = (str(tmp_path / f"{name}.{ext}") for ext in ("key", "csr", "crt"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
                    "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", f"{ca_prefix}.crt", "-CAkey", f"{ca_prefix}.key",
                    "-CAcreateserial", "-days", "1", "-out", crt], check=True, capture_output=True)
    return crt, key


def _cert_kubeconfig(gateway, tmp_path, name, crt, key):
    path = tmp_path / f"{name}.kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c1, cluster: {{server: "https://127.0.0.1:{gateway.port}/clusters/c1", certificate-authority: "{gateway.ca}"}}}}]
users: [{{name: u, user: {{client-certificate: "{crt}", client-key: "{key}"}}}}]
contexts: [{{name: c1, context: {{cluster: c1, user: u}}}}]
current-context: c1
""")
    return str(path)


def test_client_certificates(gateway, standin, db, tmp_path):
    # kubectl logs in with a client certificate (CN = user, O = groups) signed by the configured
    # client CA; a certificate from another CA is refused in the handshake and reaches nothing.
    client_ca = os.path.join(gateway.dir, "certs", "client-ca")
    crt, key = _mint_cert(tmp_path, "carol", "/O=platform/O=oncall/CN=carol", client_ca)
    carol = _cert_kubeconfig(gateway, tmp_path, "carol", crt, key)
    seq, mark = standin.seq(), f"probe=cert-{uuid.uuid4().hex[:8]}"
    assert kubectl(carol, "get", "cm", "-n", "default", "-l", mark, check=False).returncode == 0, "client-certificate login failed"
    rec = [x for x in standin.requests_since(seq)["items"] if quote(mark) in x["uri"]][-1]
    assert rec["impersonate"]["user"] == "carol", f"the cluster saw another user: {rec}"
    assert rec["impersonate"]["groups"] == ["platform", "oncall", "system:authenticated"], f"groups: {rec}"
    wait_until(lambda: db.value("""SELECT count(*) FROM audit_events WHERE username = 'carol' AND auth_method = 'x509'
                                   AND groups = ARRAY['platform','oncall']""") >= 1, timeout=10, what="an x509 audit row for carol")
    # another CA: refused before any request is read
    rogue = str(tmp_path / "rogue-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=rogue-ca", "-keyout", f"{rogue}.key", "-out", f"{rogue}.crt"], check=True, capture_output=True)
    crt, key = _mint_cert(tmp_path, "mallory", "/O=system:masters/CN=mallory", rogue)
    mallory = _cert_kubeconfig(gateway, tmp_path, "mallory", crt, key)
    seq = standin.seq()
    out = kubectl(mallory, "get", "cm", "-n", "default", "--request-timeout=10s", check=False)
    assert out.returncode != 0, "a certificate from an unknown CA was accepted"
    assert not [x for x in standin.requests_since(seq)["items"] if x.get("impersonate", {}).get("user") == "mallory"], \
        "mallory reached the cluster"
    # a certificate without a CN names nobody: 401
    crt, key = _mint_cert(tmp_path, "nocn", "/O=platform", client_ca)
    out = subprocess.run(["curl", "-sS", "--cacert", gateway.ca, "--cert", crt, "--key", key, "-o", "/dev/null", "-w", "%{http_code}",
                          f"https://127.0.0.1:{gateway.port}/clusters/c1/api/v1/namespaces"], capture_output=True, text=True)
    assert out.stdout == "401", out


def test_oidc_tokens_end_to_end(standin, own_postgres, tmp_path):
    # OIDC end to end with a test issuer (HTTPS on 127.0.0.1, keys generated per run, tokens minted
    # per check).
    idp = Issuer(str(tmp_path / "idp")).start(
        keys=(("rsa-1", "RSA"), ("p256-1", "P-256"), ("p384-1", "P-384"), ("ed-1", "Ed25519"), ("rsa-2", "RSA"),
              ("ghost", "RSA")),
        published=("rsa-1", "p256-1", "p384-1", "ed-1"))
    gw = Gateway(str(tmp_path / "gw"))
    try:
        iss = idp.url
        url = read(f"{own_postgres}/url").strip()
        shell_lib("gateway_setup", gw.bin, gw.dir, url)
        oidc = f"""  oidc:
  - issuer: "{iss}"
    audiences: [kubernetes, sluice]
    username_claim: email
    username_prefix: "oidc:"
    groups_claim: groups
    groups_prefix: "oidc:"
    ca_file: {idp.dir}/certs/ca.crt
    min_refresh_seconds: 5
  - issuer: "{iss}/ci"
    audiences: [sluice]
    username_prefix: "github:"
    required_claims: {{repository: acme/deploy}}
    ca_file: {idp.dir}/certs/ca.crt
"""
        with open(gw.config) as f:
            config = f.read()
        with open(gw.config, "w") as f:
            f.write("".join(line + (oidc if line.startswith("  client_ca_file:") else "")
                            for line in config.splitlines(keepends=True)))
        gw.start()
        gw.start_agent("oc", standin.kubeconfig)
        now = int(time.time())

        def claims(extra=None, issuer_url=None):
            c = {"iss": issuer_url or iss, "aud": "sluice", "sub": "u-1", "email": "ann@example.com", "email_verified": True,
                 "groups": ["dev", "ops"], "exp": now + 300, "iat": now}
            c.update(extra or {})
            return c

        tokens = []

        def code_for(token):
            return gw.request("GET", "/clusters/oc/api/v1/namespaces/default/configmaps?limit=1", token=token).status

        def refused(token, reason):  # 401 and the reason in the gateway's log
            tokens.append(token)
            assert code_for(token) == 401, f"token accepted but should be refused: {reason}"
            wait_until(lambda: reason in gw.log(), timeout=5, what=f"the gateway log saying '{reason}'")

        wait_until(lambda: f"keys of {iss} fetched" in gw.log(), what="the gateway fetching the issuer's keys")
        fetched_at = time.monotonic()

        # kubectl with the issuer's token; the cluster sees the mapped identity
        good = idp.mint("rsa-1", "RS256", claims())
        tokens.append(good)
        token_file = tmp_path / "good.token"
        token_file.write_text(good + "\n")
        kc = gw.kubeconfig_for("oc", str(tmp_path / "oidc.kubeconfig"), token_file=str(token_file))
        seq, mark = standin.seq(), f"probe=oidc-{uuid.uuid4().hex[:8]}"
        assert kubectl(kc, "get", "cm", "-n", "default", "-l", mark, check=False).returncode == 0, "kubectl with an OIDC token failed"
        rec = [x for x in standin.requests_since(seq)["items"] if quote(mark) in x["uri"]][-1]
        assert rec["impersonate"]["user"] == "oidc:ann@example.com", f"user: {rec}"
        assert rec["impersonate"]["groups"] == ["oidc:dev", "oidc:ops", "system:authenticated"], f"groups: {rec}"
        assert rec["impersonate"]["extra"] == {"sluice.dev%2foidc-issuer": [iss], "sluice.dev%2foidc-subject": ["u-1"]}, \
            f"extra: {rec}"
        audit = Database(url)
        try:
            wait_until(lambda: audit.value("""SELECT count(*) FROM audit_events WHERE auth_method = 'oidc'
                                              AND username = 'oidc:ann@example.com'""") >= 1, timeout=10, what="an oidc audit row")
        finally:
            audit.close()

        for kid, alg in (("rsa-1", "RS384"), ("rsa-1", "RS512"), ("rsa-1", "PS256"), ("rsa-1", "PS512"), ("p256-1", "ES256"),
                         ("p384-1", "ES384"), ("ed-1", "EdDSA")):
            t = idp.mint(kid, alg, claims())
            tokens.append(t)
            assert code_for(t) == 200, f"{alg} with {kid} refused"
        t = idp.mint("rsa-1", "RS256", claims({"aud": ["other", "kubernetes"]}))
        tokens.append(t)
        assert code_for(t) == 200, "an audience list holding an accepted audience was refused"

        refused(idp.mint("rsa-1", "none", claims()), 'token algorithm "none" is not accepted')
        refused(idp.mint("rsa-1", "HS256", claims()), 'token algorithm "HS256" is not accepted')
        refused(idp.mint("rsa-1", "RS256", claims({"aud": "someone-else"})), "wrong audience")
        refused(idp.mint("rsa-1", "RS256", claims({"exp": now - 600})), "token expired")
        refused(idp.mint("rsa-1", "RS256", claims({"nbf": now + 600})), "token not yet valid")
        refused(idp.mint("rsa-1", "RS256", claims({"email_verified": False})), "email not verified")
        refused(idp.mint("p256-1", "ES256", claims(), {"kid": "rsa-1"}), 'no ES256 key with kid "rsa-1"')
        refused(idp.mint("rsa-1", "RS256", claims(), {"crit": ["b64"]}), "critical extensions")
        t = idp.mint("rsa-1", "RS256", claims())
        refused(t.rsplit(".", 1)[0] + ".!!!", "malformed token: invalid base64url")
        refused(idp.mint("rsa-1", "RS256", claims({}, f"{iss}/ci")), 'required claim "repository"')
        t = idp.mint("rsa-1", "RS256", claims({"repository": "acme/deploy"}, f"{iss}/ci"))
        tokens.append(t)
        assert code_for(t) == 200, "the CI issuer's token with the required claim was refused"
        # a token for an issuer that is not configured, or over the size limit, is no OIDC token at all
        t = idp.mint("rsa-1", "RS256", claims({}, "https://evil.example"))
        tokens.append(t)
        assert code_for(t) == 401, "a token of an unknown issuer was accepted"
        t = idp.mint("rsa-1", "RS256", claims({"pad": "x" * 20000}))
        tokens.append(t)
        assert code_for(t) == 401, "an oversized token was accepted"

        # rotation: a new kid makes the gateway fetch the JWKS again, once; then unknown kids are refused
        # without another fetch until min_refresh (5 s) has passed
        idp.jwks("rsa-1", "p256-1", "p384-1", "ed-1", "rsa-2")
        time.sleep(max(0.0, 5.2 - (time.monotonic() - fetched_at)))  # min_refresh since the fetch at start
        hits = idp.hits()
        t = idp.mint("rsa-2", "RS256", claims())
        tokens.append(t)
        assert code_for(t) == 200, "a token signed with a rotated-in key was refused"
        assert idp.hits() == hits + 1, f"expected one JWKS fetch for the new kid, got {idp.hits() - hits}"
        for _ in range(3):
            refused(idp.mint("ghost", "RS256", claims()), 'no RS256 key with kid "ghost"')
        assert idp.hits() == hits + 1, "unknown kids made the gateway fetch the JWKS again within min_refresh"

        # the issuer goes away: tokens whose key is cached still work
        idp.stop()
        t = idp.mint("ed-1", "EdDSA", claims())
        tokens.append(t)
        assert code_for(t) == 200, "a cached key stopped working while the issuer is unreachable"
        log = gw.log()
        for t in tokens:  # the signature part identifies a token ("none" has none)
            signature = t.rsplit(".", 1)[-1]
            assert len(signature) < 16 or signature not in log, "the gateway logged a token"
            assert t not in log, "the gateway logged a token"
    finally:
        idp.stop()
        gw.stop()
