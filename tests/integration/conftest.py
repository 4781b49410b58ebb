"""pytest fixtures for the integration tests: the processes ctest's fixtures started (PostgreSQL,
the API-server stand-in, gateway and agent for cluster c1), handed out as paths and helpers, and
gateways, agents and stand-ins of a test's own (harness.py starts them).

ctest passes their directories in SLUICE_GATEWAY_DIR and SLUICE_STANDIN_DIR and the binaries in
SLUICE_{GATEWAY,AGENT,STANDIN}_BIN (tests/CMakeLists.txt). Waiting is done with wait_until (polls
a condition with a deadline), never a bare sleep.
"""
import json
import os
import shutil
import subprocess
import uuid

import pytest

from harness import Database, Gateway, Issuer, Standin, env, shell_lib, wait_until  # noqa: F401 (re-exported)


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


def kubectl(kubeconfig, *args, stdin=None, check=True, env=None):
    out = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                         text=True, timeout=60, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out


@pytest.fixture
def idp(tmp_path):
    """The test OIDC issuer (harness.Issuer), logging in Ann of the reviewers."""
    issuer = Issuer(str(tmp_path / "idp")).start()
    issuer.login_as("ann@example.com", groups=["sluice-reviewers"])
    yield issuer
    issuer.stop()


@pytest.fixture
def namespace(standin_kubeconfig):
    """A namespace of the test's own, deleted afterwards."""
    name = "it-" + uuid.uuid4().hex[:10]
    kubectl(standin_kubeconfig, "create", "namespace", name)
    yield name
    kubectl(standin_kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def standin_log(standin_kubeconfig):
    """Requests that reached the cluster since the fixture was made: standin_log() -> list of dicts."""
    def read(since):
        out = kubectl(standin_kubeconfig, "get", "--raw", f"/_standin/requests?since={since}").stdout
        return json.loads(out)
    start = read(999999999)["lastSeq"]
    return lambda: read(start)["items"]


def wait_serving(gw):
    """Until the bot's kubectl gets through `gw` to its cluster (also after a restart)."""
    wait_until(lambda: kubectl(gw.kubeconfig, "get", "ns", "-o", "name", check=False).returncode == 0,
               what="a request passing the gateway")


@pytest.fixture(scope="session")
def gateway(gateway_dir):
    """The fixture's gateway (cluster c1 behind it; the bot's kubeconfig is `kubeconfig`)."""
    return Gateway(gateway_dir)


@pytest.fixture(scope="session")
def standin(standin_dir):
    return Standin(standin_dir)


@pytest.fixture(scope="session")
def db(gateway):
    database = Database(gateway.database_url)
    yield database
    database.close()


@pytest.fixture
def own_gateway(tmp_path, gateway, standin):
    """own_gateway(CLUSTER, POLICY_YAML, extra_config="", database_url=None, extra_tokens="", auth_config="",
    limits="") -> a
    Gateway of the
    test's own (on the fixture's database unless told otherwise) with an agent for CLUSTER on the
    fixture's stand-in; .kubeconfig is the bot's through it, and a request has passed it. Stopped
    afterwards."""
    started = []

    def make(cluster, policy, extra_config="", database_url=None, extra_tokens="", auth_config="", limits=""):
        gwd = str(tmp_path / "gw")
        shell_lib("gateway_setup", gateway.bin, gwd, database_url or gateway.database_url)
        with open(os.path.join(gwd, "tokens.csv"), "a") as f:
            f.write(extra_tokens)  # more identities: token,user,uid,"groups" lines
        with open(os.path.join(gwd, "policy.yaml"), "w") as f:
            f.write(policy)
        with open(os.path.join(gwd, "gateway.yaml")) as f:  # auth_config: more lines under `auth:`
            config = "".join(line + (auth_config if line.startswith("  client_ca_file:") else "")
                             + (limits if line.startswith("  exchange_wait_seconds:") else "") for line in f)
        with open(os.path.join(gwd, "gateway.yaml"), "w") as f:
            f.write(config + "policy:\n  file: policy.yaml\n" + extra_config)
        own = Gateway(gwd)
        started.append(own)
        own.start()
        own.start_agent(cluster, standin.kubeconfig)
        own.kubeconfig = own.kubeconfig_for(cluster, str(tmp_path / f"{cluster}.kubeconfig"))
        wait_serving(own)
        return own

    yield make
    for own in started:
        own.stop()


@pytest.fixture
def fresh_database(gateway, db):
    """A database of the test's own on the fixture's server (the gateway migrates it on start)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    db.execute(f"CREATE DATABASE {name}")
    return f"{gateway.database_url} dbname={name}"


@pytest.fixture
def own_postgres(tmp_path):
    """A PostgreSQL of the test's own (scripts/lib/pg.sh) for outages no other test may see: its
    state directory (url, port)."""
    state = str(tmp_path / "pg")
    shell_lib("pg_start", state)
    yield state
    shell_lib("pg_stop", state)


@pytest.fixture
def extra_cluster(tmp_path, gateway, standin):
    """extra_cluster(NAME, own=False) -> (kubeconfig, Standin): another cluster behind the fixture's
    gateway, on a stand-in of its own when asked. Its agent (and stand-in) stop afterwards."""
    stops = []

    def make(name, own=False):
        upstream = standin
        if own:
            upstream = Standin(str(tmp_path / f"standin-{name}"))
            stops.append(lambda: shell_lib("standin_stop", upstream.dir))
            shell_lib("standin_start", env("SLUICE_STANDIN_BIN"), upstream.dir)
        stops.append(lambda: gateway.stop_agent(name))
        gateway.start_agent(name, upstream.kubeconfig)
        return gateway.kubeconfig_for(name, str(tmp_path / f"{name}.kubeconfig")), upstream

    yield make
    for stop in reversed(stops):
        stop()


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
