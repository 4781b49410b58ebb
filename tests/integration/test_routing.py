"""Which cluster a request goes to: the /clusters/<name> prefix, the TLS server name for
root-relative paths, and what an unknown or missing cluster gets; the request metrics' labels."""
import subprocess

from conftest import kubectl

SUFFIX = "clusters.sluice.internal"


def test_unknown_clusters_and_the_gateways_own_paths(gateway, tmp_path):
    bot = gateway.bot_token
    r = gateway.request("GET", "/api/v1/namespaces", token=bot)
    assert r.status == 404 and "/clusters/<name>/" in r.body
    r = gateway.request("GET", "/clusters/nope/api/v1/namespaces", token=bot)
    assert r.status == 404 and 'cluster \\"nope\\" is not registered' in r.body
    nope = gateway.kubeconfig_for("nope", str(tmp_path / "nope.kubeconfig"))
    # kubectl's discovery replaces a 404's message with its own sentence; the code still arrives
    out = kubectl(nope, "get", "ns", check=False)
    assert out.returncode != 0, "kubectl succeeded on an unknown cluster"
    assert "Error from server (NotFound)" in out.stderr
    for p in ("/healthz", "/readyz"):
        assert gateway.request("GET", p).body == "ok", p
    assert gateway.request("GET", "/clusters/c1/api/v1/namespaces").status == 401  # no credentials

    metrics = gateway.request("GET", "/metrics").body
    # the gateway's own refusals are counted too; a cluster name nobody registered is no label
    assert 'sluice_requests_total{cluster="",verb="get",code="401"}' in metrics
    assert 'sluice_requests_total{cluster="",verb="get",code="404"}' in metrics
    assert 'cluster="nope"' not in metrics, "an unknown cluster's name became a metrics label"
    for expected in ('sluice_requests_total{cluster="c1"', "sluice_tunnels ", "sluice_request_duration_seconds_bucket",
                     'sluice_bytes_total{direction="to_client"}'):
        assert expected in metrics


def test_root_relative_paths_go_to_the_cluster_the_tls_server_name_names(gateway, kubeconfig, standin):
    # client-go drops the kubeconfig's /clusters/c1 for --raw, and the TLS server name the
    # kubeconfig sets (c1.<tls.cluster_name_suffix>) names the cluster instead.
    with open(kubeconfig) as f:
        assert f"tls-server-name: c1.{SUFFIX}" in f.read(), "the kubeconfig sets no tls-server-name"
    seq = standin.seq()
    assert '"gitVersion"' in kubectl(kubeconfig, "get", "--raw", "/version").stdout
    assert '"paths"' in kubectl(kubeconfig, "get", "--raw", "/openapi/v3").stdout
    assert kubectl(kubeconfig, "get", "--raw", "/readyz").stdout == "ok"
    assert '"name":"kube-system"' in kubectl(kubeconfig, "get", "--raw", "/api/v1/namespaces/kube-system").stdout
    log = standin.requests_since(seq)["items"]
    for p in ("/version", "/openapi/v3", "/readyz", "/api/v1/namespaces/kube-system"):
        # arrived at the cluster, as the bot: the gateway's own /readyz did not answer it
        assert any(x["uri"] == p and x.get("impersonate", {}).get("user") == "automation-bot" for x in log), \
            f"{p} did not reach the cluster as the bot: {[(x['uri'], x['impersonate'].get('user')) for x in log]}"

    bot = gateway.bot_token
    assert gateway.request("GET", "/version", server_name=f"c1.{SUFFIX}").status == 401
    r = gateway.request("GET", "/clusters/c2/api/v1/namespaces", token=bot, server_name=f"c1.{SUFFIX}")
    assert r.status == 400 and "TLS server name names cluster" in r.body
    r = gateway.request("GET", "/version", token=bot, server_name=f"c9.{SUFFIX}")
    assert r.status == 404 and 'cluster \\"c9\\" is not registered' in r.body


def test_without_a_tls_server_name_the_prefix_still_routes(gateway, tmp_path):
    # a kubeconfig without tls-server-name: the prefix still works, a root-relative path is the 404 with its hint
    plain = tmp_path / "plain.kubeconfig"
    out = subprocess.run([gateway.bin, "kubeconfig", "--cluster", "c1", "--token-file", f"{gateway.dir}/bot.token",
                          "--server", f"https://127.0.0.1:{gateway.port}", "--ca-file", gateway.ca,
                          "--tls-server-name=false"], capture_output=True, text=True, check=True)
    assert "tls-server-name" not in out.stdout, "--tls-server-name=false wrote one"
    plain.write_text(out.stdout)
    assert "namespace/kube-system" in kubectl(str(plain), "get", "ns", "kube-system", "-o", "name").stdout
    raw = kubectl(str(plain), "get", "--raw", "/version", check=False)
    assert raw.returncode != 0, "a root-relative path without SNI was routed"
    assert "NotFound" in raw.stderr

    # with --config, a serving certificate that does not cover *.<suffix> gets no tls-server-name, and a warning
    other = tmp_path / "other-suffix.yaml"
    other.write_text(f'database:\n  url: "host=nowhere"\ntls:\n  cert_file: {gateway.dir}/certs/tls.crt\n'
                     f"  ca_file: {gateway.ca}\n  cluster_name_suffix: elsewhere.example\n")
    out = subprocess.run([gateway.bin, "kubeconfig", "--cluster", "c1", "--token-file", f"{gateway.dir}/bot.token",
                          "--server", f"https://127.0.0.1:{gateway.port}", "--config", str(other)],
                         capture_output=True, text=True)
    assert "tls-server-name" not in out.stdout, "a tls-server-name the certificate does not cover was written"
    assert "does not cover c1.elsewhere.example" in out.stderr
