// Live tunnels by cluster, with their idle Exchange calls. A request takes an idle exchange
// (spreading over the tunnels of its cluster) or waits for the agent to open one.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/pipeline/metrics.h"
#include "gateway/tunnel/exchange_channel.h"

namespace sluice::gateway::tunnel {

class TunnelRegistry {
 public:
  using Acquired = std::function<void(std::shared_ptr<ExchangeChannel>)>;
  using AskForExchanges = std::function<void(unsigned count)>;

  std::string add_tunnel(const std::string& cluster, const std::string& agent_version, AskForExchanges ask);
  void remove_tunnel(const std::string& tunnel_id);
  bool has_tunnel(const std::string& cluster) const;
  std::string cluster_of(const std::string& tunnel_id) const;

  // `new_call`: a call the agent just opened (else one coming back after an exchange).
  void add_idle(const std::string& tunnel_id, std::shared_ptr<ExchangeChannel> channel, bool new_call = false);
  void remove_idle(const std::shared_ptr<ExchangeChannel>& channel);

  // Hands an idle exchange to `done` now or once one opens. Returns 0 when the cluster has no
  // tunnel, else a ticket for cancel_wait (already settled when `done` ran synchronously).
  std::uint64_t acquire(const std::string& cluster, Acquired done);
  void cancel_wait(const std::string& cluster, std::uint64_t ticket);

  using TunnelStats = gateway::TunnelStats;
  std::vector<TunnelStats> tunnel_stats() const;

 private:
  // Calls come back idle after each exchange; a burst may leave more than the next one needs.
  static constexpr std::size_t kMaxIdlePerTunnel = 64;
  struct Tunnel {
    std::string id, cluster, agent_version;
    AskForExchanges ask;
    std::deque<std::shared_ptr<ExchangeChannel>> idle;
    std::uint64_t exchanges = 0, calls = 0;
  };
  struct Waiter {
    std::uint64_t ticket;
    Acquired done;
  };
  mutable std::mutex mu_;
  std::map<std::string, Tunnel> tunnels_;  // by id
  std::map<std::string, std::deque<Waiter>> waiters_;  // by cluster
  std::uint64_t next_ticket_ = 1, next_tunnel_ = 1, rotation_ = 0;
};

}  // namespace sluice::gateway::tunnel
