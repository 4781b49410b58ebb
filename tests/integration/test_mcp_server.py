"""kubernetes-mcp-server (npm, pinned by mcp_server/package-lock.json) as the AI agent, driven over
MCP stdio (JSON-RPC, one message per line) with the bot's kubeconfig through the gateway: its
resource, pod and Secret tools work, and no Secret value reaches the agent.
"""
import base64
import json
import os
import subprocess

import pytest

from conftest import MASKED_B64, kubectl, npm_package_dir, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def mcp_server_bin():
    binary = "node_modules/kubernetes-mcp-server-linux-amd64/bin/kubernetes-mcp-server-linux-amd64"
    target = npm_package_dir("SLUICE_MCP_SERVER_DIR", os.path.join(HERE, "mcp_server"),
                             ("package.json", "package-lock.json"), binary)
    return os.path.join(target, binary)


class McpClient:
    def __init__(self, binary, kubeconfig, log_file):
        self.proc = subprocess.Popen([binary, "--kubeconfig", kubeconfig, "--disable-multi-cluster",
                                      "--log-file", log_file],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.next_id = 0
        init = self.request("initialize", {"protocolVersion": "2025-03-26", "capabilities": {},
                                           "clientInfo": {"name": "sluice-test", "version": "1"}})
        assert init["serverInfo"]["name"] == "kubernetes-mcp-server"
        self.notify("notifications/initialized")

    def notify(self, method):
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}) + "\n")
        self.proc.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                          "params": params}) + "\n")
        self.proc.stdin.flush()
        while True:  # skip the server's own notifications
            line = self.proc.stdout.readline()
            assert line, "the MCP server exited"
            message = json.loads(line)
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    def call(self, tool, **arguments):
        """The tool's text and whether it reported an error."""
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        text = "".join(c.get("text", "") for c in result["content"])
        return text, bool(result.get("isError"))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def agent(mcp_server_bin, kubeconfig, tmp_path):
    client = McpClient(mcp_server_bin, kubeconfig, str(tmp_path / "mcp.log"))
    yield client
    client.close()


def test_the_agent_reads_writes_and_deletes_through_the_gateway(agent, namespace, standin_log):
    text, error = agent.call("namespaces_list")
    assert not error and namespace in text
    manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-agent\n  namespace: {namespace}\ndata:\n  k: v\n"
    text, error = agent.call("resources_create_or_update", resource=manifest)
    assert not error, text
    text, error = agent.call("resources_get", apiVersion="v1", kind="ConfigMap", name="from-agent", namespace=namespace)
    assert not error and "from-agent" in text
    text, error = agent.call("resources_delete", apiVersion="v1", kind="ConfigMap", name="from-agent", namespace=namespace)
    assert not error, text
    text, error = agent.call("resources_get", apiVersion="v1", kind="ConfigMap", name="from-agent", namespace=namespace)
    assert error and "not found" in text
    users = {r["impersonate"].get("user") for r in standin_log() if f"/namespaces/{namespace}/" in r["uri"]}
    assert users == {"automation-bot"}


def test_pod_tools_exec_and_logs(agent, namespace, standin_kubeconfig):
    kubectl(standin_kubeconfig, "-n", namespace, "run", "box", "--image=busybox", "--", "sh", "-c",
            "echo started-by-test; sleep 3600")
    wait_until(lambda: kubectl(standin_kubeconfig, "-n", namespace, "get", "pod", "box", "-o",
                               "jsonpath={.status.phase}").stdout == "Running", what="pod box running")
    text, error = agent.call("pods_list_in_namespace", namespace=namespace)
    assert not error and "box" in text
    text, error = agent.call("pods_exec", namespace=namespace, name="box", command=["sh", "-c", "echo from-exec"])
    assert not error and "from-exec" in text, text
    text, error = agent.call("pods_log", namespace=namespace, name="box")
    assert not error and "started-by-test" in text, text


def test_secret_tools_never_show_a_value(agent, namespace, standin_kubeconfig):
    value = "hunter2-mcp-" + namespace
    kubectl(standin_kubeconfig, "-n", namespace, "create", "secret", "generic", "db", f"--from-literal=password={value}")
    encoded = base64.b64encode(value.encode()).decode()
    texts = [agent.call("resources_get", apiVersion="v1", kind="Secret", name="db", namespace=namespace)[0],
             agent.call("resources_list", apiVersion="v1", kind="Secret", namespace=namespace)[0]]
    for text in texts:
        assert value not in text and encoded not in text, "a Secret value reached the agent"
    assert MASKED_B64 in texts[0], texts[0]
