// A plain-HTTP listener of its own for Prometheus (metrics.listen): GET /metrics, /healthz and
// /readyz, nothing else. Requests are small and answered at once: headers capped at 8 KiB, no
// body, 10 s to send them, one request per connection.
#pragma once
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace sluice::gateway {

class MetricsListener {
 public:
  struct Handlers {
    std::function<std::string()> metrics;  // the Prometheus text
    std::function<bool()> ready;           // /readyz: 200 when true, else 503
  };
  // Throws std::runtime_error naming the address when it cannot be bound.
  MetricsListener(boost::asio::io_context& io, const std::string& host, unsigned short port, Handlers handlers);
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void start() { accept(); }

 private:
  void accept();
  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Handlers handlers_;
};

}  // namespace sluice::gateway
