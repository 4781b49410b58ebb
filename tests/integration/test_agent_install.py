"""Installing the agent in a cluster: agent/deploy's kustomize base applies to the stand-in
(server-side dry run, then for real) and holds exactly what the agent needs; `cluster add
--manifest | kubectl apply -f -` installs it in one command, and an agent started from what was
applied, in the in-cluster layout a pod gets (the Secret's files, the ServiceAccount's token and
CA, KUBERNETES_SERVICE_HOST/PORT), connects and serves kubectl through the gateway."""
import base64
import json
import os
import shutil
import subprocess
import uuid

import yaml

from conftest import kubectl
from harness import ROOT, Background, free_port, http_plain, wait_until

DEPLOY = os.path.join(ROOT, "agent", "deploy")
SCHEMAS = os.path.join(ROOT, "tests", "apiserver-stand-in", "openapi", "kubernetes-schemas.json")
CLUSTER_SCOPED = (("clusterrole", "sluice-agent-impersonator"), ("clusterrolebinding", "sluice-agent-impersonator"))


def _cleanup(kubeconfig):
    kubectl(kubeconfig, "delete", "namespace", "sluice-system", "--wait=false", "--ignore-not-found", check=False)
    for kind, name in CLUSTER_SCOPED:
        kubectl(kubeconfig, "delete", kind, name, "--ignore-not-found", check=False)


def _schema_errors(doc):
    """Fields of `doc` that upstream's OpenAPI schema for its kind does not have, and values of
    the wrong JSON type, as paths ("spec.maxUnavailabel"); also an unknown kind."""
    schemas = json.load(open(SCHEMAS))["schemas"]
    group, _, version = doc["apiVersion"].rpartition("/")
    by_kind = [s for s in schemas.values() if {"group": group, "version": version, "kind": doc["kind"]}
               in s.get("x-kubernetes-group-version-kind", [])]
    if not by_kind:
        return [f"no upstream schema for {doc['apiVersion']} {doc['kind']}"]
    errors = []
    types = {"string": str, "boolean": bool, "object": dict, "array": list}

    def walk(value, schema, path):
        while "$ref" in schema or "allOf" in schema:
            ref = schema["$ref"] if "$ref" in schema else schema["allOf"][0]["$ref"]
            schema = schemas[ref.rsplit("/", 1)[1]]
        if schema.get("format") == "int-or-string":
            if not isinstance(value, (int, str)):
                errors.append(f"{path}: not an int or a string")
            return
        kind = schema.get("type")
        if kind in ("integer", "number"):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"{path}: not a number")
        elif kind in types and not isinstance(value, types[kind]):
            errors.append(f"{path}: not a {kind}")
        elif isinstance(value, dict) and "properties" in schema:
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if key not in schema["properties"]:
                    errors.append(child)
                else:
                    walk(item, schema["properties"][key], child)
        elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
            for key, item in value.items():
                walk(item, schema["additionalProperties"], f"{path}[{key}]")
        elif isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                walk(item, schema["items"], f"{path}[{i}]")

    walk(doc, by_kind[0], "")
    return errors


def _probe(port, path):
    """The agent's probe answer, or None while it is not listening yet."""
    try:
        return http_plain(port, "GET", path)
    except OSError:
        return None


def _get(kubeconfig, *args):
    return json.loads(kubectl(kubeconfig, "get", "-o", "json", *args).stdout)


def test_the_kustomize_base_applies_and_asks_for_no_more_than_impersonation(standin, gateway, tmp_path):
    base = tmp_path / "deploy"
    shutil.copytree(DEPLOY, base)
    (base / "agent.token").write_text("t0ken-from-cluster-add\n")
    shutil.copy(gateway.ca, base / "gateway-ca.crt")
    (base / "agent.env").write_text("SLUICE_GATEWAY=gateway.example:8444\nSLUICE_CLUSTER=prod-eu\n")
    kc = standin.kubeconfig
    _cleanup(kc)
    try:
        # A server-side dry run cannot create the namespace its objects go in (kube-apiserver
        # answers NotFound for them too), so the namespace comes first.
        out = kubectl(kc, "apply", "-k", str(base), "--dry-run=server", check=False)
        assert out.returncode != 0 and 'namespaces "sluice-system" not found' in out.stderr, out
        kubectl(kc, "apply", "-f", str(base / "namespace.yaml"))
        out = kubectl(kc, "apply", "-k", str(base), "--dry-run=server", check=False)
        assert out.returncode == 0, out.stderr
        assert "deployment.apps/sluice-agent created (server dry run)" in out.stdout, out.stdout
        assert kubectl(kc, "get", "deployment", "sluice-agent", "-n", "sluice-system", check=False).returncode != 0, \
            "a dry run created the Deployment"
        out = kubectl(kc, "apply", "-k", str(base), check=False)
        assert out.returncode == 0, out.stderr
        for line in ("namespace/sluice-system unchanged", "serviceaccount/sluice-agent created",
                     "clusterrole.rbac.authorization.k8s.io/sluice-agent-impersonator created",
                     "clusterrolebinding.rbac.authorization.k8s.io/sluice-agent-impersonator created",
                     "secret/sluice-agent created", "configmap/sluice-agent created", "deployment.apps/sluice-agent created",
                     "poddisruptionbudget.policy/sluice-agent created", "networkpolicy.networking.k8s.io/sluice-agent created"):
            assert line in out.stdout, f"{line} missing from: {out.stdout}"
        role = _get(kc, "clusterrole", "sluice-agent-impersonator")
        granted = sorted((g, r, tuple(rule["verbs"])) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"])
        assert granted == [("", "groups", ("impersonate",)), ("", "serviceaccounts", ("impersonate",)),
                           ("", "users", ("impersonate",)), ("authentication.k8s.io", "uids", ("impersonate",)),
                           ("authentication.k8s.io", "userextras/*", ("impersonate",))], granted
        deploy = _get(kc, "deployment", "sluice-agent", "-n", "sluice-system")
        pod = deploy["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert deploy["spec"]["replicas"] == 2 and pod["serviceAccountName"] == "sluice-agent"
        assert pod["securityContext"]["runAsNonRoot"] is True
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        pdb = _get(kc, "pdb", "sluice-agent", "-n", "sluice-system")
        assert pdb["spec"]["minAvailable"] == 1
        policy = _get(kc, "networkpolicy", "sluice-agent", "-n", "sluice-system")["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        ports = sorted(p["port"] for rule in policy["egress"] for p in rule["ports"])
        assert ports == [53, 53, 443, 6443, 8444], ports
        secret = _get(kc, "secret", "sluice-agent", "-n", "sluice-system")
        assert base64.b64decode(secret["data"]["token"]).decode() == "t0ken-from-cluster-add\n"
        # a field the schema does not know is refused by the server, as kube-apiserver refuses it
        # (kubectl asks for fieldValidation=Strict)
        pdb_file = base / "disruption-budget.yaml"
        good = pdb_file.read_text()
        pdb_file.write_text(good.replace("minAvailable: 1", "minAvailable: 1\n  maxUnavailabel: 1"))
        out = kubectl(kc, "apply", "-k", str(base), "--dry-run=server", check=False)
        assert out.returncode != 0 and 'strict decoding error: unknown field "spec.maxUnavailabel"' in out.stderr, out
        pdb_file.write_text(good)
        # Every document against upstream's schema (kubernetes-schemas.json), types included.
        docs = [d for d in yaml.safe_load_all(kubectl(kc, "kustomize", str(base)).stdout) if d]
        assert len(docs) == 9 and {d["kind"]: _schema_errors(d) for d in docs} == {d["kind"]: [] for d in docs}
        typo = yaml.safe_load((base / "disruption-budget.yaml").read_text())
        typo["spec"]["maxUnavailabel"] = 1
        typo["spec"]["minAvailable"] = [1]
        assert _schema_errors(typo) == ["spec.minAvailable: not an int or a string", "spec.maxUnavailabel"]
    finally:
        _cleanup(kc)


def test_cluster_add_manifest_installs_an_agent_that_connects(own_gateway, standin, tmp_path):
    gw = own_gateway(f"inst{uuid.uuid4().hex[:6]}", "defaultAction: allow\n")
    name = f"prod-{uuid.uuid4().hex[:6]}"
    kc = standin.kubeconfig
    _cleanup(kc)
    agent = None
    try:
        out = gw.cli("cluster", "add", name, "--manifest", "--gateway-address", f"127.0.0.1:{gw.agent_port}",
                     "--image", "registry.example/sluice:1")
        assert "agent token is in the manifest above" in out.stderr
        docs = [d for d in yaml.safe_load_all(out.stdout) if d]
        assert [d["kind"] for d in docs] == ["Namespace", "Secret", "ConfigMap", "ServiceAccount", "ClusterRole",
                                              "ClusterRoleBinding", "Deployment", "PodDisruptionBudget", "NetworkPolicy"]
        applied = subprocess.run(["kubectl", "--kubeconfig", kc, "apply", "-f", "-"], input=out.stdout, capture_output=True,
                                 text=True, timeout=60)
        assert applied.returncode == 0, applied.stderr
        listed = json.loads(gw.cli("cluster", "list", "-o", "json").stdout)["items"]
        assert [c for c in listed if c["name"] == name and not c["connected"]], listed

        # What a pod of that Deployment gets, laid out on disk: the Secret's files, the
        # ServiceAccount's token and CA, and the kubernetes Service's address in the environment.
        deploy = _get(kc, "deployment", "sluice-agent", "-n", "sluice-system")
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "registry.example/sluice:1"
        config = _get(kc, "configmap", "sluice-agent", "-n", "sluice-system")["data"]
        secret = _get(kc, "secret", "sluice-agent", "-n", "sluice-system")["data"]
        mount = tmp_path / "etc-sluice-agent"
        mount.mkdir()
        for key, value in secret.items():
            (mount / key).write_bytes(base64.b64decode(value))
        upstream = yaml.safe_load(open(kc))
        server = upstream["clusters"][0]["cluster"]
        sa = tmp_path / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text(upstream["users"][0]["user"]["token"])
        if "certificate-authority-data" in server:
            (sa / "ca.crt").write_bytes(base64.b64decode(server["certificate-authority-data"]))
        else:
            shutil.copy(server["certificate-authority"], sa / "ca.crt")
        host, port = server["server"].removeprefix("https://").rsplit(":", 1)
        probes = free_port()
        args = [a.replace("$(SLUICE_GATEWAY)", config["SLUICE_GATEWAY"]).replace("$(SLUICE_CLUSTER)", config["SLUICE_CLUSTER"])
                .replace("/etc/sluice-agent", str(mount)).replace("0.0.0.0:8080", f"127.0.0.1:{probes}")
                for a in container["args"]]
        env = dict(os.environ, KUBERNETES_SERVICE_HOST=host, KUBERNETES_SERVICE_PORT=port)
        agent = Background([gw.agent_bin, *args, "--serviceaccount-dir", str(sa)], str(tmp_path / "agent.log"), env=env)
        wait_until(lambda: (r := _probe(probes, "/readyz")) and r.status == 200, what="the agent's readiness")
        assert http_plain(probes, "GET", "/healthz").body == "ok\n"
        listed = json.loads(gw.cli("cluster", "list", "-o", "json").stdout)["items"]
        assert [c for c in listed if c["name"] == name and c["connected"]], listed
        through = gw.kubeconfig_for(name, str(tmp_path / "through.kubeconfig"))
        out = kubectl(through, "get", "namespace", "sluice-system", "-o", "name")
        assert out.stdout == "namespace/sluice-system\n"
        # the agent's readiness follows its tunnel: the gateway gone, it is not ready
        gw.stop()
        wait_until(lambda: (r := _probe(probes, "/readyz")) and r.status == 503, what="the agent no longer ready")
        assert http_plain(probes, "GET", "/healthz").status == 200
    finally:
        if agent:
            agent.stop()
        _cleanup(kc)
