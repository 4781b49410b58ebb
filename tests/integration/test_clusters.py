"""Clusters behind one gateway and their agents coming and going: a cluster without an agent, two
clusters kept apart, two tunnels for one cluster, an agent killed under a watch, and a client that
leaves in the middle of one."""
import json
import os
import re
import signal
import subprocess
import uuid

from conftest import kubectl
from harness import read, wait_until


def _name(prefix):
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def test_a_cluster_without_an_agent_answers_503_and_kubectl_retries_until_it_comes(gateway, standin, tmp_path):
    cluster = _name("lonely")
    token = gateway.cli("cluster", "add", cluster).stdout
    with open(os.path.join(gateway.dir, f"agent-{cluster}.token"), "w") as f:
        f.write(token)
    kc = gateway.kubeconfig_for(cluster, str(tmp_path / "lonely.kubeconfig"))
    r = gateway.request("GET", f"/clusters/{cluster}/api/v1/namespaces", token=gateway.bot_token)
    assert r.status == 503 and r.headers.get("retry-after") == "2" and "has no connected agent" in r.body

    # kubectl (client-go) retries a 503 with Retry-After: started before the agent, it succeeds once
    # the agent is up. Its -v=6 log says when the first 503 came back.
    early = subprocess.Popen(["kubectl", "--kubeconfig", kc, "get", "ns", "-o", "name", "-v=6"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        for line in early.stderr:
            if " 503 Service Unavailable" in line:
                break
        else:
            raise AssertionError("kubectl never saw the 503")
        gateway.start_agent(cluster, standin.kubeconfig)
        out, _ = early.communicate(timeout=60)
        assert early.returncode == 0, "kubectl started before the agent failed"
        assert "namespace/kube-system" in out
        assert "kube-system" in kubectl(kc, "get", "ns").stdout
        listed = json.loads(gateway.cli("cluster", "list", "-o", "json").stdout)
        mine = [c for c in listed["items"] if c["name"] == cluster]
        assert mine and mine[0]["connected"] is True, listed
        assert mine[0]["agentVersion"] != "", f"no agent version: {listed}"
        table = gateway.cli("cluster", "list").stdout
        assert "NAME" in table and cluster in table
    finally:
        early.kill()
        gateway.stop_agent(cluster)


def test_two_clusters_are_kept_apart_and_one_cluster_takes_two_tunnels(gateway, kubeconfig, extra_cluster, tmp_path):
    second = _name("second")
    second_kc, second_standin = extra_cluster(second, own=True)
    only_c1, only_second = _name("only-in-c1-"), _name("only-in-second-")
    kubectl(kubeconfig, "create", "cm", only_c1, "-n", "default")
    try:
        kubectl(second_kc, "create", "cm", only_second, "-n", "default")
        names = kubectl(kubeconfig, "get", "cm", "-n", "default", "-o", "name").stdout
        assert only_c1 in names and only_second not in names, "c1 sees the second cluster's object"
        names = kubectl(second_kc, "get", "cm", "-n", "default", "-o", "name").stdout
        assert only_second in names and only_c1 not in names, "the second cluster sees c1's object"

        # A second agent for the same cluster joins as another tunnel; requests spread over both.
        log = tmp_path / "agent-second2.log"
        with open(log, "w") as out:
            agent2 = subprocess.Popen([gateway.agent_bin, "--gateway", f"127.0.0.1:{gateway.agent_port}", "--cluster", second,
                                       "--token-file", os.path.join(gateway.dir, f"agent-{second}.token"),
                                       "--gateway-ca", gateway.ca, "--kubeconfig", second_standin.kubeconfig],
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: re.search(r"tunnel .* open", read(log)), timeout=10, what="the second agent connecting")
            for _ in range(40):
                kubectl(second_kc, "get", "ns", "-o", "name")
            # both tunnels of the cluster carried some of them (the gauge of all tunnels is shared)
            metrics = gateway.request("GET", "/metrics").body
            counts = re.findall(r'^sluice_tunnel_exchanges_total\{cluster="' + second + r'",[^}]*\} (\d+)$', metrics, re.M)
            assert len(counts) == 2, f"expected 2 tunnels for the cluster, got counts: {counts}"
            assert all(int(n) > 0 for n in counts), f"a tunnel carried no exchange: {counts}"
        finally:
            agent2.terminate()
            agent2.wait(timeout=15)
    finally:
        kubectl(kubeconfig, "delete", "cm", only_c1, "-n", "default", check=False)


def test_a_watch_ends_when_its_agent_dies_and_the_gateway_carries_on(gateway, kubeconfig, extra_cluster):
    doomed = _name("doomed")
    doomed_kc, doomed_standin = extra_cluster(doomed, own=True)
    seq = doomed_standin.seq()
    watcher = subprocess.Popen(["kubectl", "--kubeconfig", doomed_kc, "get", "cm", "-n", "default", "-w"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: [x for x in doomed_standin.requests_since(seq)["items"] if "watch=true" in x["uri"]],
                   what="the watch reaching the cluster")
        os.kill(gateway.agent_pid(doomed), signal.SIGKILL)
        watcher.wait(timeout=15)  # kubectl's watch ends after its agent died
    finally:
        watcher.kill()
    assert "namespace/default" in kubectl(kubeconfig, "get", "ns", "-o", "name").stdout, "the gateway after an agent died"
    r = gateway.request("GET", f"/clusters/{doomed}/api/v1/namespaces", token=gateway.bot_token)
    assert r.status == 503 and "has no connected agent" in r.body


def test_a_client_leaving_a_watch_closes_it_upstream(kubeconfig, standin):
    seq = standin.seq()
    watcher = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "get", "cm", "-n", "default", "-w"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: [x for x in standin.requests_since(seq)["items"] if "watch=true" in x.get("uri", "")],
                   timeout=10, what="the watch reaching the stand-in")
    finally:
        watcher.kill()
        watcher.wait()
    wait_until(lambda: [x for x in standin.requests_since(seq)["items"] if x.get("event") == "client-disconnected"],
               timeout=10, what="the stand-in seeing the upstream watch closed after the client went away")
