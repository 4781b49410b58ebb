// The gRPC service agents dial: authenticates each call (agent token for a registered cluster,
// compared in constant time) and hands Control and Exchange calls to their reactors.
#pragma once
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "gateway/tunnel/admission.h"
#include "gateway/tunnel/agent_directory.h"
#include "gateway/tunnel/tunnel_registry.h"
#include "proto/tunnel.grpc.pb.h"

namespace sluice::gateway::tunnel {

class TunnelService final : public pb::Tunnel::CallbackService {
 public:
  TunnelService(TunnelRegistry& registry, AgentDirectory& clusters, unsigned idle_exchanges)
      : registry_(registry), clusters_(clusters), idle_exchanges_(idle_exchanges) {}

  grpc::ServerBidiReactor<pb::AgentMessage, pb::GatewayMessage>* Control(grpc::CallbackServerContext* ctx) override;
  grpc::ServerBidiReactor<pb::AgentFrame, pb::GatewayFrame>* Exchange(grpc::CallbackServerContext* ctx) override;

 private:
  // Admits `call` for the cluster its agent token belongs to, or refuses it (logged without the
  // token). A token not accepted in the last 30 s is checked by the directory, off this thread.
  template <class In, class Out>
  void authenticate(grpc::CallbackServerContext* ctx, AdmittedReactor<In, Out>* call);

  TunnelRegistry& registry_;
  AgentDirectory& clusters_;
  unsigned idle_exchanges_;
  std::mutex cache_mu_;
  // Accepted (cluster, token hash) pairs, so every Exchange call does not cost a database round trip.
  std::map<std::string, std::chrono::steady_clock::time_point> accepted_;
};

}  // namespace sluice::gateway::tunnel
