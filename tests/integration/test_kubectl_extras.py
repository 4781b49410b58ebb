"""kubectl's commands that read the API server's OpenAPI documents or its ephemeral-containers
subresource, through the gateway as the bot: explain, client-side validation of a List, debug."""
import json

from conftest import kubectl, wait_until

LIST = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed-settings}
  data: {mode: fast}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: listed-web}
  spec:
    replicas: 1
    selector: {matchLabels: {app: listed-web}}
    template:
      metadata: {labels: {app: listed-web}}
      spec:
        containers:
        - name: web
          image: nginx:1.27
          ports: [{containerPort: 80%s}]
"""


def test_explain_reads_upstream_schemas_over_openapi_v3(kubeconfig):
    out = kubectl(kubeconfig, "explain", "pods").stdout
    assert "KIND:       Pod" in out
    assert "Pod is a collection of containers that can run on a host." in out
    nested = kubectl(kubeconfig, "explain", "deployments.spec.revisionHistoryLimit").stdout
    assert "GROUP:      apps" in nested and "FIELD: revisionHistoryLimit <integer>" in nested
    assert "The number of old ReplicaSets to retain to allow rollback." in nested


def test_explain_over_openapi_v2_protobuf(kubeconfig):
    # The v2 form is gnostic's protobuf: this explain decodes it, as client-side validation does.
    out = kubectl(kubeconfig, "explain", "configmaps.data", "--output", "plaintext-openapiv2").stdout
    assert "FIELD:    data <map[string]string>" in out
    assert "Data contains the configuration data." in out


def test_openapi_documents_are_served_at_the_root_by_the_tls_server_name(kubeconfig):
    v2 = json.loads(kubectl(kubeconfig, "get", "--raw", "/openapi/v2").stdout)
    assert v2["swagger"] == "2.0"
    pod = v2["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
    root = json.loads(kubectl(kubeconfig, "get", "--raw", "/openapi/v3").stdout)
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert "?hash=" in url
    apps = json.loads(kubectl(kubeconfig, "get", "--raw", url).stdout)
    assert "io.k8s.api.apps.v1.Deployment" in apps["components"]["schemas"]
    assert "io.k8s.api.core.v1.Pod" not in apps["components"]["schemas"]  # only what apps/v1 references
    assert "io.k8s.api.core.v1.PodSpec" in apps["components"]["schemas"]


def test_a_list_is_validated_on_the_client_before_anything_is_sent(kubeconfig, namespace, standin_log):
    bad = kubectl(kubeconfig, "create", "-n", namespace, "-f", "-", stdin=LIST % ", bogusField: 1", check=False)
    assert bad.returncode == 1
    assert 'unknown field "bogusField" in io.k8s.api.core.v1.ContainerPort' in bad.stderr
    # (the stand-in is shared with tests running beside this one: only this namespace counts)
    reached = [r for r in standin_log() if r.get("method") == "POST" and f"/namespaces/{namespace}/" in r.get("uri", "")]
    assert not reached, "an invalid List reached the cluster"

    good = kubectl(kubeconfig, "create", "-n", namespace, "-f", "-", stdin=LIST % "").stdout
    assert "configmap/listed-settings created" in good and "deployment.apps/listed-web created" in good
    assert kubectl(kubeconfig, "get", "-n", namespace, "cm", "listed-settings", "-o", "jsonpath={.data.mode}").stdout == "fast"


def _path(logged):
    return logged.get("uri", "").split("?")[0]


def _running_pod(kubeconfig, namespace, name):
    kubectl(kubeconfig, "run", name, "-n", namespace, "--image=nginx:1.27", "--", "sleep", "600")
    wait_until(lambda: kubectl(kubeconfig, "get", "pod", name, "-n", namespace, "-o",
                               "jsonpath={.status.phase}").stdout == "Running", what=f"pod {name} running")


def test_debug_adds_an_ephemeral_container_that_runs(kubeconfig, namespace, standin_log):
    _running_pod(kubeconfig, namespace, "target")
    kubectl(kubeconfig, "debug", "target", "-n", namespace, "--profile=baseline", "--image=busybox", "-c", "dbg",
            "--", "sh", "-c", "echo debugging $HOSTNAME")
    patches = [r for r in standin_log() if r.get("method") == "PATCH"
               and _path(r).endswith(f"/namespaces/{namespace}/pods/target/ephemeralcontainers")]
    assert patches, "no PATCH of pods/ephemeralcontainers reached the cluster"

    def terminated():
        pod = json.loads(kubectl(kubeconfig, "get", "pod", "target", "-n", namespace, "-o", "json").stdout)
        states = [s["state"] for s in pod["status"].get("ephemeralContainerStatuses", []) if s["name"] == "dbg"]
        return states and "terminated" in states[0] and states[0]
    assert wait_until(terminated, what="the debug container to finish")["terminated"]["exitCode"] == 0
    assert kubectl(kubeconfig, "logs", "target", "-n", namespace, "-c", "dbg").stdout == "debugging target\n"

    # Existing ephemeral containers are never changed or removed: the API server says so.
    removed = kubectl(kubeconfig, "patch", "pod", "target", "-n", namespace, "--subresource=ephemeralcontainers",
                      "--type=json", "-p", '[{"op":"remove","path":"/spec/ephemeralContainers/0"}]', check=False)
    assert removed.returncode == 1
    assert 'existing ephemeral containers "dbg" may not be removed' in removed.stderr


def test_debug_attaches_to_the_ephemeral_container(kubeconfig, namespace):
    _running_pod(kubeconfig, namespace, "attached")
    # Whether kubectl attaches while the container runs or finds it ended and reads its log, the
    # output reaches the user (the pause lets the attach come first most of the time).
    out = kubectl(kubeconfig, "debug", "attached", "-n", namespace, "--profile=baseline", "-i", "--image=busybox",
                  "-c", "dbg", "--", "sh", "-c", "sleep 1; echo attached-output", stdin="")
    assert "attached-output" in out.stdout


def test_debug_copy_to_creates_the_copy_from_a_protobuf_pod(kubeconfig, namespace, standin_log):
    _running_pod(kubeconfig, namespace, "original")
    kubectl(kubeconfig, "debug", "original", "-n", namespace, "--profile=baseline", "--image=busybox",
            "--copy-to=original-debug", "-c", "dbg", "--", "echo", "from-the-copy")
    creates = [r for r in standin_log() if r.get("method") == "POST" and _path(r).endswith(f"/namespaces/{namespace}/pods")]
    assert creates and creates[-1]["contentType"] == "application/vnd.kubernetes.protobuf"
    copy = json.loads(kubectl(kubeconfig, "get", "pod", "original-debug", "-n", namespace, "-o", "json").stdout)
    assert [c["name"] for c in copy["spec"]["containers"]] == ["original", "dbg"]
    assert copy["spec"]["containers"][0]["args"] == ["sleep", "600"]
    assert wait_until(lambda: kubectl(kubeconfig, "logs", "original-debug", "-n", namespace, "-c", "dbg").stdout,
                      what="the copy's debug container output") == "from-the-copy\n"


def test_unknown_fields_are_refused_or_warned_about_as_kube_apiserver_does(kubeconfig, namespace, tmp_path):
    # kubectl asks for fieldValidation=Strict by default and Warn with --validate=warn; the server
    # checks the body against upstream's schema. The Warning headers come back through the gateway.
    manifest = tmp_path / "cm.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "bogusField": 1,
                                    "metadata": {"name": "fields", "namespace": namespace, "labelz": {"a": "b"}},
                                    "data": {"k": "v"}}))
    out = kubectl(kubeconfig, "create", "-f", str(manifest), check=False)
    assert out.returncode != 0, out.stdout
    assert ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field '
            '"bogusField", unknown field "metadata.labelz"') in out.stderr, out.stderr
    out = kubectl(kubeconfig, "create", "-f", str(manifest), "--validate=warn", check=False)
    assert out.returncode == 0 and "configmap/fields created" in out.stdout, out
    assert 'Warning: unknown field "bogusField"' in out.stderr and 'Warning: unknown field "metadata.labelz"' in out.stderr
    # a strategic merge patch is read the same way (kubectl patch leaves the server's default, Warn)
    out = kubectl(kubeconfig, "patch", "configmap", "fields", "-n", namespace, "--type=strategic", "-p",
                  '{"data": {"k": "w"}, "dataz": {"x": "y"}}', check=False)
    assert out.returncode == 0 and out.stderr == 'Warning: unknown field "dataz"\n', out
