// The agent's probes for its pod, on a plain-HTTP port of their own (--health-listen):
//   GET /healthz   200 while the process serves its event loop (liveness)
//   GET /readyz    200 while the gateway has welcomed this agent, else 503 (readiness)
// Nothing else is served, and the port carries no cluster data. Each connection gets one
// request of at most 4 KiB and 5 s.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <string>

namespace sluice::agent {

class HealthListener {
 public:
  HealthListener(boost::asio::io_context& io, const std::string& host, unsigned short port, std::function<bool()> ready);
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  void accept();
  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::function<bool()> ready_;
};

}  // namespace sluice::agent
