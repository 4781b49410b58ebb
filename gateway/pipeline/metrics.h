// Prometheus text-format metrics of the gateway: requests by cluster/verb/code, request
// duration histogram, live tunnels, open exchanges, bytes each way.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>


namespace sluice::gateway {

// One live tunnel, as the registry reports it (tunnel/tunnel_registry.h).
struct TunnelStats {
  std::string cluster, id;
  std::uint64_t exchanges = 0;  // exchanges handed to requests over this tunnel
  std::uint64_t calls = 0;      // Exchange calls the agent opened on it (fewer than exchanges: reuse)
};

class Metrics {
 public:
  void request_done(const std::string& cluster, const std::string& verb, int code, double seconds);
  void add_bytes_in(std::size_t n) { bytes_in_ += n; }
  void add_bytes_out(std::size_t n) { bytes_out_ += n; }
  void exchange_opened() { ++open_exchanges_; }
  void exchange_closed() { --open_exchanges_; }
  void connection_opened(bool h2) { ++(h2 ? h2_connections_ : http1_connections_); }
  void rapid_reset_refused() { ++rapid_reset_closes_; }
  std::string render(const std::vector<TunnelStats>& tunnels) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30};
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, unsigned long long> requests_;
  std::array<unsigned long long, kBuckets.size()> bucket_counts_{};
  unsigned long long duration_count_ = 0;
  double duration_sum_ = 0;
  std::atomic<unsigned long long> bytes_in_{0}, bytes_out_{0};
  std::atomic<long long> open_exchanges_{0};
  std::atomic<unsigned long long> h2_connections_{0}, http1_connections_{0}, rapid_reset_closes_{0};
};

}  // namespace sluice::gateway
