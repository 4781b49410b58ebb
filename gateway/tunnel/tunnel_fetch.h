// A small request the gateway itself sends through a cluster's tunnel and reads whole, such as
// the live pod an exec goes into (policy conditions). The response is cut off at `max_bytes` and
// the whole fetch at `timeout`; either way `done` gets an error instead. `done` runs on
// `executor` (the caller's strand). Cancelled through `cancel`, it stops waiting for an exchange
// (or resets the one it has) and `done` gets the error "cancelled".
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/cancel.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway::tunnel {

struct FetchResult {
  int status = 0;      // the API server's status; 0 when the fetch failed (see error)
  std::string body;
  std::string error;
};

struct FetchRequest {
  std::string cluster;
  std::string method = "GET";
  std::string target;  // path and query as the cluster sees them
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent as append_request_frames splits it
  std::size_t max_bytes = 1 << 20;
  std::chrono::milliseconds timeout{5000};
};

void fetch_through_tunnel(boost::asio::any_io_executor executor, TunnelRegistry& tunnels, FetchRequest request,
                          std::function<void(FetchResult)> done, common::Cancel cancel = nullptr);

}  // namespace sluice::gateway::tunnel
