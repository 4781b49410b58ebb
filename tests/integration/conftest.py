"""pytest fixtures for the integration tests: the processes ctest's fixtures started (PostgreSQL,
the API-server stand-in, gateway and agent for cluster c1), handed out as paths and helpers.

ctest passes their directories in SLUICE_GATEWAY_DIR and SLUICE_STANDIN_DIR (tests/CMakeLists.txt).
Waiting is done with wait_until (polls a condition with a deadline), never a bare sleep.
"""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest


def _dir(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run through ctest (fixtures gateway, standin, postgres)")
    return value


@pytest.fixture(scope="session")
def gateway_dir():
    return _dir("SLUICE_GATEWAY_DIR")


@pytest.fixture(scope="session")
def standin_dir():
    return _dir("SLUICE_STANDIN_DIR")


@pytest.fixture(scope="session")
def kubeconfig(gateway_dir):
    """The automation bot's kubeconfig through the gateway (cluster c1)."""
    return os.path.join(gateway_dir, "kubeconfig")


@pytest.fixture(scope="session")
def standin_kubeconfig(standin_dir):
    """Straight to the stand-in, as its admin: for setting up and for checking what the cluster holds."""
    return os.path.join(standin_dir, "kubeconfig")


def kubectl(kubeconfig, *args, stdin=None, check=True):
    out = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                         text=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out


@pytest.fixture
def namespace(standin_kubeconfig):
    """A namespace of the test's own, deleted afterwards."""
    name = "it-" + uuid.uuid4().hex[:10]
    kubectl(standin_kubeconfig, "create", "namespace", name)
    yield name
    kubectl(standin_kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def wait_until(condition, timeout=20.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def standin_log(standin_kubeconfig):
    """Requests that reached the cluster since the fixture was made: standin_log() -> list of dicts."""
    def read(since):
        out = kubectl(standin_kubeconfig, "get", "--raw", f"/_standin/requests?since={since}").stdout
        return json.loads(out)
    start = read(999999999)["lastSeq"]
    return lambda: read(start)["items"]


def npm_package_dir(env_name, source_dir, files, installed):
    """Copies `files` from `source_dir` into the build-tree folder $env_name and runs `npm ci` there
    unless `installed` (a path relative to it) exists: npm clients come from their lockfiles."""
    target = os.environ.get(env_name)
    if not target:
        pytest.fail(f"{env_name} is not set: run through ctest")
    os.makedirs(target, exist_ok=True)
    for name in files:
        shutil.copy2(os.path.join(source_dir, name), target)  # keeps mtimes: npm ci reruns only for a newer lock
    marker = os.path.join(target, installed)
    if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(os.path.join(target, "package-lock.json")):
        out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=target, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, f"npm ci failed: {out.stderr}"
    return target


MASKED_B64 = "KioqTUFTS0VEKioq"  # base64("***MASKED***"), what a masked Secret value reads as
