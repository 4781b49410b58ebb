"""@kubernetes/client-node 1.x (npm, pinned by package-lock.json) through the gateway: CRUD, watch,
exec with stdin, stderr and the exit code, log follow, port-forward, a masked Secret. Each scenario
is one run of client_node/client_node.mjs; the packages are installed with `npm ci` into the build
tree (SLUICE_CLIENT_NODE_DIR) once per session.
"""
import os
import subprocess

import pytest

from conftest import kubectl, npm_package_dir, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def client_node_dir():
    return npm_package_dir("SLUICE_CLIENT_NODE_DIR", os.path.join(HERE, "client_node"),
                           ("package.json", "package-lock.json", "client_node.mjs"), "node_modules/.package-lock.json")


def run(client_node_dir, kubeconfig, scenario, namespace):
    out = subprocess.run(["node", os.path.join(client_node_dir, "client_node.mjs"), scenario, namespace],
                         env={**os.environ, "KUBECONFIG": kubeconfig}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout


def pod(standin_kubeconfig, namespace, name, command, restart="Always"):
    kubectl(standin_kubeconfig, "-n", namespace, "run", name, "--image=busybox", f"--restart={restart}",
            "--overrides", '{"spec":{"containers":[{"name":"main","image":"busybox","command":%s}]}}'
            % str(command).replace("'", '"'))
    wait_until(lambda: kubectl(standin_kubeconfig, "-n", namespace, "get", "pod", name, "-o",
                               "jsonpath={.status.phase}").stdout in ("Running", "Succeeded"),
               what=f"pod {name} running")


@pytest.mark.parametrize("scenario", ["crud", "watch"])
def test_api(client_node_dir, kubeconfig, namespace, scenario):
    run(client_node_dir, kubeconfig, scenario, namespace)


def test_exec(client_node_dir, kubeconfig, standin_kubeconfig, namespace):
    pod(standin_kubeconfig, namespace, "box", ["sleep", "3600"])
    for _ in range(5):  # a missed close frame would hang a run (see test_python_client.py)
        run(client_node_dir, kubeconfig, "exec", namespace)


def test_log_follow(client_node_dir, kubeconfig, standin_kubeconfig, namespace):
    pod(standin_kubeconfig, namespace, "counter", ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"],
        restart="Never")
    run(client_node_dir, kubeconfig, "logs", namespace)


def test_port_forward(client_node_dir, kubeconfig, standin_kubeconfig, namespace):
    pod(standin_kubeconfig, namespace, "web", ["sleep", "3600"])
    run(client_node_dir, kubeconfig, "portforward", namespace)


def test_secret_is_masked(client_node_dir, kubeconfig, standin_kubeconfig, namespace):
    kubectl(standin_kubeconfig, "-n", namespace, "create", "secret", "generic", "db",
            "--from-literal=password=hunter2-node")
    run(client_node_dir, kubeconfig, "secret", namespace)
