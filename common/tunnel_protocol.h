// Which agents and gateways work together. Releases change the tunnel protocol (proto/tunnel.proto)
// only compatibly (new fields, new messages the other side may ignore), and each side names the
// protocol it speaks in Hello and Welcome. A gateway refuses agents older than it still
// supports, with a message the agent's operator can act on; everything newer is accepted, since
// unknown fields and messages are ignored. Bump kTunnelProtocol with a change a peer must know
// of, and kMinAgentProtocol only when the gateway stops serving an old agent.
#pragma once
#include <optional>
#include <string>

namespace sluice::common {

inline constexpr unsigned kTunnelProtocol = 1;
inline constexpr unsigned kMinAgentProtocol = 1;

// Why a gateway that needs at least `min_protocol` cannot serve this agent; nullopt when it can.
// `sent` 0 means an agent from before the field, which speaks protocol 1.
inline std::optional<std::string> incompatible_agent(unsigned sent, const std::string& agent_version,
                                                     unsigned min_protocol = kMinAgentProtocol) {
  const unsigned protocol = sent == 0 ? 1 : sent;
  if (protocol >= min_protocol) return std::nullopt;
  return "sluice-agent " + (agent_version.empty() ? std::string("(version unknown)") : agent_version) +
         " speaks tunnel protocol " + std::to_string(protocol) + ", and this gateway needs at least " +
         std::to_string(min_protocol) + ": upgrade the agent to the gateway's release";
}

}  // namespace sluice::common
