// The agent's tunnel client ends every gRPC call before it is gone: destroyed while its Control
// call is still trying to reach a gateway, it cancels that call and waits for gRPC's OnDone.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <thread>

#include "agent/tunnel_client.h"
#include "common/tls_certs.h"

using namespace sluice::agent;

TEST_CASE("tunnel client: the destructor waits for every reactor's OnDone") {
  boost::asio::io_context io;
  // A listener that never accepts: TCP connects through the backlog and the TLS handshake waits,
  // so the Control call stays pending (a closed port would fail it at once, racing the check).
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto silent_port = silent.local_endpoint().port();
  UpstreamConfig upstream;
  upstream.host = "127.0.0.1";
  upstream.port = 1;
  ConnectionPool pool(io, upstream);
  TunnelOptions options;
  options.gateway = "127.0.0.1:" + std::to_string(silent_port);
  options.cluster = "c1";
  options.token_file = "/nonexistent/token";
  options.agent_version = "test";
  options.agent_id = "t";
  auto ca = sluice::common::generate_ca("test ca");
  options.gateway_ca_pem = ca.cert_pem;
  auto client = std::make_unique<TunnelClient>(io, pool, options);
  client->start();
  io.poll_one();  // connect(): the Control call is opened, and gRPC is still trying to connect
  CHECK(client->live_calls() == 1);
  const auto t0 = std::chrono::steady_clock::now();
  client.reset();  // cancels the call and returns only once gRPC ended it
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}
