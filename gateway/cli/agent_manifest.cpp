#include "gateway/cli/agent_manifest.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "gateway/cli/agent_deploy_files.h"

namespace sluice::gateway::cli {
namespace {
// kustomization.yaml's resources, in its order.
constexpr const char* kResources[] = {"namespace.yaml", "rbac.yaml", "deployment.yaml", "disruption-budget.yaml",
                                      "network-policy.yaml"};
constexpr std::string_view kImageLine = "image: sluice:latest";
}  // namespace

std::string render_agent_manifest(const AgentManifestInputs& in) {
  std::string out = "# sluice-agent for cluster " + in.cluster + ", from `sluice-gateway cluster add --manifest`.\n" +
                    "# It holds the agent's token: apply it, do not keep it. kubectl apply -f - on the cluster.\n";
  // The Secret and ConfigMap the kustomization generates, as JSON documents (valid YAML, and no
  // quoting to get wrong for a PEM block).
  const nlohmann::json labels = {{"app.kubernetes.io/name", "sluice-agent"}, {"app.kubernetes.io/part-of", "sluice"}};
  const nlohmann::json secret = {
      {"apiVersion", "v1"}, {"kind", "Secret"},
      {"metadata", {{"name", "sluice-agent"}, {"namespace", "sluice-system"}, {"labels", labels}}},
      {"type", "Opaque"},
      {"stringData", {{"token", in.token + "\n"}, {"gateway-ca.crt", in.gateway_ca_pem}}}};
  const nlohmann::json config = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"},
      {"metadata", {{"name", "sluice-agent"}, {"namespace", "sluice-system"}, {"labels", labels}}},
      {"data", {{"SLUICE_GATEWAY", in.gateway_address}, {"SLUICE_CLUSTER", in.cluster}}}};
  bool first = true;
  for (const char* name : kResources) {
    const auto* file = agent_deploy::find_asset(name);
    if (!file) throw std::logic_error(std::string("agent/deploy/") + name + " was not embedded");
    std::string text(file->body);
    if (std::string_view(name) == "deployment.yaml") {
      const auto at = text.find(kImageLine);
      if (at == std::string::npos) throw std::logic_error("agent/deploy/deployment.yaml names no image: sluice:latest");
      const auto eol = text.find('\n', at);
      text.replace(at, eol - at, "image: " + nlohmann::json(in.image).dump());
    }
    if (!first) out += "---\n";
    out += text;
    if (first) out += "---\n" + secret.dump() + "\n---\n" + config.dump() + "\n";  // after the Namespace
    first = false;
  }
  return out;
}

}  // namespace sluice::gateway::cli
