// `sluice-gateway cluster add NAME --manifest`: agent/deploy's manifests (embedded at build time,
// so the binary prints the very files `kubectl apply -k agent/deploy` takes) with their inputs
// filled in: the Secret with the agent token and the gateway's CA, the ConfigMap naming the
// gateway and the cluster, and the image.
#pragma once
#include <string>

namespace sluice::gateway::cli {

struct AgentManifestInputs {
  std::string cluster, token, gateway_address, gateway_ca_pem, image;
};

// One YAML stream, ready for `kubectl apply -f -`.
std::string render_agent_manifest(const AgentManifestInputs& in);

}  // namespace sluice::gateway::cli
