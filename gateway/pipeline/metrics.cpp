#include "gateway/pipeline/metrics.h"

#include <sstream>

namespace sluice::gateway {

void Metrics::request_done(const std::string& cluster, const std::string& verb, int code, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{cluster, verb, code}];
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++bucket_counts_[i];
  ++duration_count_;
  duration_sum_ += seconds;
}

std::string Metrics::render(const std::vector<TunnelStats>& tunnels) const {
  std::ostringstream o;
  std::lock_guard lock(mu_);
  o << "# HELP sluice_requests_total Requests proxied, by cluster, verb and HTTP code.\n"
       "# TYPE sluice_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    o << "sluice_requests_total{cluster=\"" << std::get<0>(key) << "\",verb=\"" << std::get<1>(key) << "\",code=\""
      << std::get<2>(key) << "\"} " << n << "\n";
  o << "# HELP sluice_request_duration_seconds Time from the request head to the end of the response.\n"
       "# TYPE sluice_request_duration_seconds histogram\n";
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    o << "sluice_request_duration_seconds_bucket{le=\"" << kBuckets[i] << "\"} " << bucket_counts_[i] << "\n";
  o << "sluice_request_duration_seconds_bucket{le=\"+Inf\"} " << duration_count_ << "\n"
    << "sluice_request_duration_seconds_sum " << duration_sum_ << "\n"
    << "sluice_request_duration_seconds_count " << duration_count_ << "\n"
    << "# HELP sluice_tunnels Live agent tunnels.\n# TYPE sluice_tunnels gauge\nsluice_tunnels " << tunnels.size() << "\n"
    << "# HELP sluice_tunnel_exchanges_total Exchanges handed to each live tunnel.\n"
       "# TYPE sluice_tunnel_exchanges_total counter\n";
  for (const auto& t : tunnels)
    o << "sluice_tunnel_exchanges_total{cluster=\"" << t.cluster << "\",tunnel=\"" << t.id << "\"} " << t.exchanges << "\n";
  o << "# HELP sluice_tunnel_calls_total Exchange calls each live tunnel's agent opened (calls are reused).\n"
       "# TYPE sluice_tunnel_calls_total counter\n";
  for (const auto& t : tunnels)
    o << "sluice_tunnel_calls_total{cluster=\"" << t.cluster << "\",tunnel=\"" << t.id << "\"} " << t.calls << "\n";
  o
    << "# HELP sluice_open_exchanges Exchanges in flight.\n# TYPE sluice_open_exchanges gauge\nsluice_open_exchanges "
    << open_exchanges_.load() << "\n"
    << "# HELP sluice_bytes_total Body bytes relayed, by direction.\n# TYPE sluice_bytes_total counter\n"
    << "sluice_bytes_total{direction=\"to_cluster\"} " << bytes_in_.load() << "\n"
    << "sluice_bytes_total{direction=\"to_client\"} " << bytes_out_.load() << "\n"
    << "# HELP sluice_connections_total Client connections accepted, by the protocol ALPN chose.\n"
       "# TYPE sluice_connections_total counter\n"
    << "sluice_connections_total{protocol=\"h2\"} " << h2_connections_.load() << "\n"
    << "sluice_connections_total{protocol=\"http/1.1\"} " << http1_connections_.load() << "\n"
    << "# HELP sluice_http2_rapid_reset_closes_total HTTP/2 connections closed for resetting too many unanswered streams.\n"
       "# TYPE sluice_http2_rapid_reset_closes_total counter\n"
    << "sluice_http2_rapid_reset_closes_total " << rapid_reset_closes_.load() << "\n";
  return o.str();
}

}  // namespace sluice::gateway
