#include "gateway/tunnel/tunnel_registry.h"

#include <vector>

#include "common/token_compare.h"

namespace sluice::gateway::tunnel {

std::string TunnelRegistry::add_tunnel(const std::string& cluster, const std::string& agent_version, AskForExchanges ask) {
  std::lock_guard lock(mu_);
  std::string id = cluster + "/" + std::to_string(next_tunnel_++) + "-" + common::random_token_hex(4);
  tunnels_[id] = Tunnel{id, cluster, agent_version, std::move(ask), {}, 0, 0};
  return id;
}

void TunnelRegistry::remove_tunnel(const std::string& tunnel_id) {
  std::deque<std::shared_ptr<ExchangeChannel>> idle;
  {
    std::lock_guard lock(mu_);
    auto it = tunnels_.find(tunnel_id);
    if (it == tunnels_.end()) return;
    idle = std::move(it->second.idle);
    tunnels_.erase(it);
  }
  for (auto& ch : idle) ch->finish(false);
}

bool TunnelRegistry::has_tunnel(const std::string& cluster) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, t] : tunnels_)
    if (t.cluster == cluster) return true;
  return false;
}

std::string TunnelRegistry::cluster_of(const std::string& tunnel_id) const {
  std::lock_guard lock(mu_);
  auto it = tunnels_.find(tunnel_id);
  return it == tunnels_.end() ? "" : it->second.cluster;
}

void TunnelRegistry::add_idle(const std::string& tunnel_id, std::shared_ptr<ExchangeChannel> channel, bool new_call) {
  Acquired done;
  bool excess = false;
  {
    std::lock_guard lock(mu_);
    auto it = tunnels_.find(tunnel_id);
    if (it == tunnels_.end()) {
      channel->finish(false);
      return;
    }
    if (new_call) ++it->second.calls;
    auto& waiting = waiters_[it->second.cluster];
    if (!waiting.empty()) {
      ++it->second.exchanges;
      done = std::move(waiting.front().done);
      waiting.pop_front();
    } else if (it->second.idle.size() >= kMaxIdlePerTunnel) {
      excess = true;
    } else {
      it->second.idle.push_back(std::move(channel));
      return;
    }
  }
  if (excess) return channel->finish(true);  // after a burst, idle calls beyond the cap close
  done(std::move(channel));
}

void TunnelRegistry::remove_idle(const std::shared_ptr<ExchangeChannel>& channel) {
  std::lock_guard lock(mu_);
  for (auto& [id, t] : tunnels_)
    for (auto it = t.idle.begin(); it != t.idle.end(); ++it)
      if (*it == channel) {
        t.idle.erase(it);
        return;
      }
}

std::uint64_t TunnelRegistry::acquire(const std::string& cluster, Acquired done) {
  std::shared_ptr<ExchangeChannel> got;
  AskForExchanges ask;
  std::uint64_t ticket = 0;
  {
    std::lock_guard lock(mu_);
    std::vector<Tunnel*> candidates;
    for (auto& [id, t] : tunnels_)
      if (t.cluster == cluster) candidates.push_back(&t);
    if (candidates.empty()) return 0;
    ticket = next_ticket_++;
    // Round-robin over the cluster's tunnels, skipping those without an idle exchange.
    for (std::size_t i = 0; i < candidates.size() && !got; ++i) {
      Tunnel* t = candidates[(rotation_ + i) % candidates.size()];
      if (!t->idle.empty()) {
        ++t->exchanges;
        got = std::move(t->idle.front());
        t->idle.pop_front();
      }
    }
    ++rotation_;
    if (!got) {
      waiters_[cluster].push_back({ticket, std::move(done)});
      ask = candidates[rotation_ % candidates.size()]->ask;
    }
  }
  if (got) done(std::move(got));
  else if (ask) ask(2);
  return ticket;
}

void TunnelRegistry::cancel_wait(const std::string& cluster, std::uint64_t ticket) {
  std::lock_guard lock(mu_);
  auto it = waiters_.find(cluster);
  if (it == waiters_.end()) return;
  for (auto w = it->second.begin(); w != it->second.end(); ++w)
    if (w->ticket == ticket) {
      it->second.erase(w);
      return;
    }
}

std::vector<TunnelRegistry::TunnelStats> TunnelRegistry::tunnel_stats() const {
  std::lock_guard lock(mu_);
  std::vector<TunnelStats> out;
  for (const auto& [id, t] : tunnels_) out.push_back({t.cluster, id, t.exchanges, t.calls});
  return out;
}

}  // namespace sluice::gateway::tunnel
