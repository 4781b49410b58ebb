#include "gateway/tunnel/tunnel_service.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "common/token_compare.h"

namespace sluice::gateway::tunnel {
namespace {
constexpr auto kAcceptCacheTtl = std::chrono::seconds(30);

template <class In, class Out>
class Refusal : public grpc::ServerBidiReactor<In, Out> {
 public:
  explicit Refusal(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

std::string metadata(grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

class ControlReactor : public grpc::ServerBidiReactor<pb::AgentMessage, pb::GatewayMessage> {
 public:
  ControlReactor(TunnelRegistry& registry, AgentDirectory& clusters, std::string cluster, std::string peer,
                 unsigned idle)
      : registry_(registry), clusters_(clusters), cluster_(std::move(cluster)), peer_(std::move(peer)), idle_(idle) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return end("agent disconnected");
    if (tunnel_id_.empty()) {
      if (!in_.has_hello() || in_.hello().cluster() != cluster_) {
        std::lock_guard lock(mu_);
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be a hello for this cluster"));
        return;
      }
      version_ = in_.hello().agent_version();
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
      send(std::move(welcome));
    } else if (in_.has_heartbeat()) {
      check_in();
    } else if (in_.has_draining()) {
      spdlog::info("agent draining: cluster={} tunnel={}", cluster_, tunnel_id_);
      registry_.remove_tunnel(tunnel_id_);
    }
    StartRead(&in_);
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
  void send(pb::GatewayMessage m) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    out_.push_back(std::move(m));
    if (out_.size() == 1) StartWrite(&out_.front());
  }

  void check_in() {
    try {
      clusters_.record_check_in(cluster_, version_);
    } catch (const std::exception& e) {
      spdlog::warn("cannot record the check-in of cluster {}: {}", cluster_, e.what());
    }
  }

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

std::string TunnelService::authenticate(grpc::CallbackServerContext* ctx) {
  const std::string cluster = metadata(ctx, "x-sluice-cluster");
  const std::string auth = metadata(ctx, "authorization");
  if (cluster.empty() || auth.rfind("Bearer ", 0) != 0) {
    spdlog::warn("agent refused: missing cluster name or bearer token (peer {})", ctx->peer());
    return "";
  }
  const std::string token = auth.substr(7);
  const std::string key = cluster + "/" + common::sha256_hex(token);
  {
    std::lock_guard lock(cache_mu_);
    auto it = accepted_.find(key);
    if (it != accepted_.end() && std::chrono::steady_clock::now() - it->second < kAcceptCacheTtl) return cluster;
  }
  bool ok = false;
  try {
    ok = clusters_.verify_agent_token(cluster, token);
  } catch (const std::exception& e) {
    spdlog::error("agent refused: cannot check its token, the database failed: {}", e.what());
    return "";
  }
  if (!ok) {
    spdlog::warn("agent refused: wrong token or unknown cluster '{}' (peer {})", cluster, ctx->peer());
    return "";
  }
  std::lock_guard lock(cache_mu_);
  accepted_[key] = std::chrono::steady_clock::now();
  return cluster;
}

grpc::ServerBidiReactor<pb::AgentMessage, pb::GatewayMessage>* TunnelService::Control(grpc::CallbackServerContext* ctx) {
  std::string cluster = authenticate(ctx);
  if (cluster.empty())
    return new Refusal<pb::AgentMessage, pb::GatewayMessage>(
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown cluster or wrong agent token"));
  return new ControlReactor(registry_, clusters_, std::move(cluster), ctx->peer(), idle_exchanges_);
}

grpc::ServerBidiReactor<pb::AgentFrame, pb::GatewayFrame>* TunnelService::Exchange(grpc::CallbackServerContext* ctx) {
  std::string cluster = authenticate(ctx);
  if (cluster.empty())
    return new Refusal<pb::AgentFrame, pb::GatewayFrame>(
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown cluster or wrong agent token"));
  return make_exchange_reactor(registry_, std::move(cluster));
}

}  // namespace sluice::gateway::tunnel
