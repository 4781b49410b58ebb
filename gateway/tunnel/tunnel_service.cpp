#include "gateway/tunnel/tunnel_service.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "common/token_compare.h"
#include "common/tunnel_protocol.h"

namespace sluice::gateway::tunnel {
namespace {
constexpr auto kAcceptCacheTtl = std::chrono::seconds(30);

std::string metadata(grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

class ControlReactor : public AdmittedReactor<pb::AgentMessage, pb::GatewayMessage> {
 public:
  ControlReactor(TunnelRegistry& registry, AgentDirectory& clusters, std::string peer, unsigned idle)
      : registry_(registry), clusters_(clusters), peer_(std::move(peer)), idle_(idle) {}

  void admit(std::string cluster) override {
    cluster_ = std::move(cluster);
    StartRead(&in_);
  }

  void refuse(grpc::Status why) override {
    std::lock_guard lock(mu_);
    finished_ = true;
    Finish(std::move(why));
  }

  // A reaction that throws is a bug: it ends this agent's control call (the agent dials again),
  // never the gateway.
  void OnReadDone(bool ok) override {
    try {
      read_done(ok);
    } catch (const std::exception& e) {
      spdlog::error("the control call of cluster {} failed and was ended (a bug: please report it): {}", cluster_, e.what());
      end("control call ended");
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    out_.pop_front();
    if (ok && !out_.empty() && !finished_) StartWrite(&out_.front());
  }

  void OnDone() override {
    if (!tunnel_id_.empty()) registry_.remove_tunnel(tunnel_id_);
    delete this;
  }

 private:
  void read_done(bool ok) {
    if (!ok) return end("agent disconnected");
    if (tunnel_id_.empty()) {
      if (!in_.has_hello() || in_.hello().cluster() != cluster_) {
        std::lock_guard lock(mu_);
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be a hello for this cluster"));
        return;
      }
      version_ = in_.hello().agent_version();
      if (auto why = common::incompatible_agent(in_.hello().protocol(), version_)) {
        spdlog::warn("agent refused: cluster={} peer={}: {}", cluster_, peer_, *why);
        std::lock_guard lock(mu_);
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, *why));
        return;
      }
      tunnel_id_ = registry_.add_tunnel(cluster_, version_, [this](unsigned n) {
        pb::GatewayMessage m;
        m.mutable_open_exchanges()->set_count(n);
        send(std::move(m));
      });
      check_in();
      spdlog::info("agent connected: cluster={} version={} tunnel={} peer={}", cluster_, version_, tunnel_id_, peer_);
      pb::GatewayMessage welcome;
      welcome.mutable_welcome()->set_tunnel_id(tunnel_id_);
      welcome.mutable_welcome()->set_idle_exchanges(idle_);
      welcome.mutable_welcome()->set_protocol(common::kTunnelProtocol);
      send(std::move(welcome));
    } else if (in_.has_heartbeat()) {
      check_in();
    } else if (in_.has_draining()) {
      spdlog::info("agent draining: cluster={} tunnel={}", cluster_, tunnel_id_);
      registry_.remove_tunnel(tunnel_id_);
    }
    StartRead(&in_);
  }

  void send(pb::GatewayMessage m) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    out_.push_back(std::move(m));
    if (out_.size() == 1) StartWrite(&out_.front());
  }

  void check_in() { clusters_.record_check_in(cluster_, version_); }

  void end(const char* why) {
    if (!tunnel_id_.empty()) {
      spdlog::info("{}: cluster={} tunnel={}", why, cluster_, tunnel_id_);
      registry_.remove_tunnel(tunnel_id_);
    }
    std::lock_guard lock(mu_);
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  TunnelRegistry& registry_;
  AgentDirectory& clusters_;
  std::string cluster_, peer_, version_, tunnel_id_;
  unsigned idle_;
  pb::AgentMessage in_;
  std::mutex mu_;
  std::deque<pb::GatewayMessage> out_;
  bool finished_ = false;
};
}  // namespace

template <class In, class Out>
void TunnelService::authenticate(grpc::CallbackServerContext* ctx, AdmittedReactor<In, Out>* call) {
  const grpc::Status refused(grpc::StatusCode::UNAUTHENTICATED, "unknown cluster or wrong agent token");
  const std::string cluster = metadata(ctx, "x-sluice-cluster");
  const std::string auth = metadata(ctx, "authorization");
  if (cluster.empty() || auth.rfind("Bearer ", 0) != 0) {
    spdlog::warn("agent refused: missing cluster name or bearer token (peer {})", ctx->peer());
    return call->refuse(refused);
  }
  const std::string token = auth.substr(7);
  std::string key = cluster + "/" + common::sha256_hex(token);
  {
    std::lock_guard lock(cache_mu_);
    auto it = accepted_.find(key);
    if (it != accepted_.end() && std::chrono::steady_clock::now() - it->second < kAcceptCacheTtl)
      return call->admit(cluster);
  }
  // The call stays open (and so this service alive: the server's shutdown waits for every call)
  // until the answer admits or refuses it.
  clusters_.verify_agent_token(
      cluster, token, [this, call, cluster, key = std::move(key), peer = ctx->peer(), refused](common::Result<bool> ok) {
        if (!ok) {
          spdlog::error("agent refused: cannot check its token: {}", ok.error().message);
          return call->refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                           "the gateway cannot check agent tokens now (its database is unreachable)"));
        }
        if (!*ok) {
          spdlog::warn("agent refused: wrong token or unknown cluster '{}' (peer {})", cluster, peer);
          return call->refuse(refused);
        }
        {
          std::lock_guard lock(cache_mu_);
          accepted_[key] = std::chrono::steady_clock::now();
        }
        call->admit(cluster);
      });
}

grpc::ServerBidiReactor<pb::AgentMessage, pb::GatewayMessage>* TunnelService::Control(grpc::CallbackServerContext* ctx) {
  auto* call = new ControlReactor(registry_, clusters_, ctx->peer(), idle_exchanges_);
  authenticate(ctx, call);
  return call;
}

grpc::ServerBidiReactor<pb::AgentFrame, pb::GatewayFrame>* TunnelService::Exchange(grpc::CallbackServerContext* ctx) {
  auto* call = make_exchange_reactor(registry_);
  authenticate(ctx, call);
  return call;
}

}  // namespace sluice::gateway::tunnel
