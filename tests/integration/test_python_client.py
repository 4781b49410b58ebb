"""Debian's python3-kubernetes (kubernetes-client/python 22.6) through the gateway, unchanged: CRUD,
watch, exec with stdin, stderr and the exit code, log follow, and a Secret that comes back masked.

Exec is run many times: the client misses a WebSocket close frame that shares a TLS record with the
frame before it (kubernetes-client/python#2414) and then waits forever, so the gateway writes a close
frame alone. Before that fix, 50-70 % of runs hung.
"""
import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.stream import stream

from conftest import MASKED_B64, kubectl, wait_until


@pytest.fixture
def api(kubeconfig):
    return client.CoreV1Api(api_client=config.new_client_from_config(config_file=kubeconfig))


def running_pod(api, namespace, name, command, restart="Always"):
    body = {"metadata": {"name": name},
            "spec": {"restartPolicy": restart,
                     "containers": [{"name": "main", "image": "busybox", "command": command}]}}
    api.create_namespaced_pod(namespace, body)
    wait_until(lambda: api.read_namespaced_pod(name, namespace).status.phase in ("Running", "Succeeded"),
               what=f"pod {name} running")


def test_crud_through_the_gateway(api, namespace, standin_log):
    api.create_namespaced_config_map(namespace, {"metadata": {"name": "cm"}, "data": {"k": "v1"}})
    assert api.read_namespaced_config_map("cm", namespace).data == {"k": "v1"}
    api.patch_namespaced_config_map("cm", namespace, {"data": {"k": "v2"}})
    assert api.read_namespaced_config_map("cm", namespace).data == {"k": "v2"}
    names = [c.metadata.name for c in api.list_namespaced_config_map(namespace).items]
    assert "cm" in names
    api.delete_namespaced_config_map("cm", namespace)
    with pytest.raises(client.exceptions.ApiException) as gone:
        api.read_namespaced_config_map("cm", namespace)
    assert gone.value.status == 404
    # the cluster saw the bot, impersonated by the gateway: never the client's own credentials
    users = {r["impersonate"].get("user") for r in standin_log() if f"/namespaces/{namespace}/" in r["uri"]}
    assert users == {"automation-bot"}


def test_watch_sees_a_change_made_while_it_runs(api, namespace):
    api.create_namespaced_config_map(namespace, {"metadata": {"name": "first"}})
    seen = []
    w = watch.Watch()
    for event in w.stream(api.list_namespaced_config_map, namespace, timeout_seconds=20):  # watch=True
        seen.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "first" and len(seen) == 1:
            threading.Thread(target=lambda: api.create_namespaced_config_map(
                namespace, {"metadata": {"name": "second"}})).start()
        if event["object"].metadata.name == "second":
            w.stop()
    assert seen[:2] == [("ADDED", "first"), ("ADDED", "second")]


def test_exec_stdin_stderr_and_exit_code_never_hang(api, namespace):
    running_pod(api, namespace, "box", ["sleep", "3600"])
    script = 'read a; read b; echo "$b $a"; echo oops >&2; exit 3'
    for run in range(12):
        ws = stream(api.connect_get_namespaced_pod_exec, "box", namespace, command=["sh", "-c", script],
                    stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
        ws.write_stdin("alpha\nbeta\n")
        ws.run_forever(timeout=15)
        assert not ws.is_open(), f"run {run}: the exec did not end within 15 s (a missed close frame)"
        assert ws.read_stdout().strip() == "beta alpha"
        assert ws.read_stderr().strip() == "oops"
        assert ws.returncode == 3
        ws.close()


def test_exec_output_without_stdin(api, namespace):
    running_pod(api, namespace, "box", ["sleep", "3600"])
    out = stream(api.connect_get_namespaced_pod_exec, "box", namespace, command=["sh", "-c", "echo $HOSTNAME"],
                 stdin=False, stdout=True, stderr=True, tty=False)
    assert out.strip() == "box"


def test_log_follow_ends_with_the_container(api, namespace):
    running_pod(api, namespace, "counter", ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"],
                restart="Never")
    resp = api.read_namespaced_pod_log("counter", namespace, follow=True, _preload_content=False)  # follow=True
    text = b"".join(resp.stream()).decode()
    assert text.splitlines() == ["line 1", "line 2", "line 3"]


def test_a_secret_comes_back_masked(api, namespace, standin_kubeconfig):
    kubectl(standin_kubeconfig, "-n", namespace, "create", "secret", "generic", "db",
            "--from-literal=password=hunter2-python")
    secret = api.read_namespaced_secret("db", namespace)
    assert secret.data == {"password": MASKED_B64}
    listed = api.list_namespaced_secret(namespace).items
    assert [s.data for s in listed if s.metadata.name == "db"] == [{"password": MASKED_B64}]
    # the cluster still holds the real value
    real = kubectl(standin_kubeconfig, "-n", namespace, "get", "secret", "db", "-o", "jsonpath={.data.password}")
    assert real.stdout != MASKED_B64


def test_port_forward_over_websocket(api, namespace):
    from kubernetes.stream import portforward
    running_pod(api, namespace, "web", ["sleep", "3600"])
    pf = portforward(api.connect_get_namespaced_pod_portforward, "web", namespace, ports="8080")
    sock = pf.socket(8080)
    sock.settimeout(15)
    sock.sendall(b"ping through the gateway\n")
    got = b""
    while len(got) < len(b"ping through the gateway\n"):
        chunk = sock.recv(1024)
        assert chunk, "the forwarded connection closed early"
        got += chunk
    assert got == b"ping through the gateway\n"  # the stand-in's pod port echoes
    sock.close()
    assert pf.error(8080) is None
