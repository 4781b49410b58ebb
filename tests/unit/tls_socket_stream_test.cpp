// TlsSocketStream over real sockets on 127.0.0.1: handshake with name checks, bulk transfer both
// ways at once, end of stream, timeouts.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "common/tls_certs.h"
#include "common/tls_socket_stream.h"

using sluice::common::TlsSocketStream;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
struct Pki {
  sluice::common::PemPair ca = sluice::common::generate_ca("stream-test-ca");
  sluice::common::PemPair leaf = sluice::common::generate_leaf(ca, {"server", {}, {"localhost"}, {"127.0.0.1"}, true, 1});
};

// A connected server/client pair of TCP sockets wrapped in TlsSocketStreams, not yet handshaken.
struct Pair {
  net::io_context io;
  net::ssl::context server_tls{net::ssl::context::tls_server}, client_tls{net::ssl::context::tls_client};
  std::unique_ptr<TlsSocketStream> server, client;

  explicit Pair(const Pki& pki) {
    server_tls.use_certificate_chain(net::buffer(pki.leaf.cert_pem));
    server_tls.use_private_key(net::buffer(pki.leaf.key_pem), net::ssl::context::pem);
    SSL_CTX_set_mode(server_tls.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    client_tls.add_certificate_authority(net::buffer(pki.ca.cert_pem));
    client_tls.set_verify_mode(net::ssl::verify_peer);
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    tcp::socket c(io);
    c.connect(acceptor.local_endpoint());
    server = std::make_unique<TlsSocketStream>(acceptor.accept(), server_tls.native_handle());
    client = std::make_unique<TlsSocketStream>(std::move(c), client_tls.native_handle());
  }

  // Runs both handshakes, the client expecting `server_name`; returns the client's and the
  // server's results.
  std::pair<boost::system::error_code, boost::system::error_code> handshake(const std::string& server_name) {
    REQUIRE(client->set_server_name(server_name));
    boost::system::error_code cec = net::error::would_block, sec = net::error::would_block;
    client->async_handshake(TlsSocketStream::handshake_type::client, [&](boost::system::error_code ec) {
      cec = ec;
      if (ec) client->close();  // as a client does: the server then sees the connection end
    });
    server->async_handshake(TlsSocketStream::handshake_type::server, [&](boost::system::error_code ec) { sec = ec; });
    io.run();
    io.restart();
    return {cec, sec};
  }
};
}  // namespace

TEST_CASE("a client accepts a server whose certificate names the address it dialled, and refuses another name") {
  Pki pki;
  {
    Pair p(pki);
    auto [c, s] = p.handshake("127.0.0.1");
    CHECK_MESSAGE(!c, c.message());
    CHECK_MESSAGE(!s, s.message());
  }
  {
    Pair p(pki);
    auto [c, s] = p.handshake("api.example.com");
    CHECK(c);  // certificate verify failed
    CHECK(s);
  }
}

TEST_CASE("4 MiB each way at the same time arrive intact, then close_notify reads as end of stream") {
  Pki pki;
  Pair p(pki);
  auto [c, s] = p.handshake("localhost");
  REQUIRE_MESSAGE(!c, c.message());
  REQUIRE(!s);
  std::string up(4 << 20, '\0'), down(4 << 20, '\0');
  for (std::size_t i = 0; i < up.size(); ++i) {
    up[i] = static_cast<char>(i * 7 + 1);
    down[i] = static_cast<char>(i * 13 + 5);
  }
  std::string got_up(up.size(), '\0'), got_down(down.size(), '\0');
  int done = 0;
  auto check = [&](boost::system::error_code ec, std::size_t) {
    CHECK_MESSAGE(!ec, ec.message());
    ++done;
  };
  // Both streams read and write at once: the case of an upgraded (exec) connection.
  net::async_write(*p.client, net::buffer(up), check);
  net::async_write(*p.server, net::buffer(down), check);
  net::async_read(*p.server, net::buffer(got_up), check);
  net::async_read(*p.client, net::buffer(got_down), check);
  p.io.run();
  p.io.restart();
  CHECK(done == 4);
  CHECK(got_up == up);
  CHECK(got_down == down);

  SSL_shutdown(p.client->native_handle());  // close_notify
  char byte;
  boost::system::error_code end;
  p.server->async_read_some(net::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) { end = ec; });
  p.io.run();
  CHECK(end == net::error::eof);
}

TEST_CASE("a deadline that passes fails the pending read with timeout - cleared, it does not") {
  Pki pki;
  Pair p(pki);
  auto [c, s] = p.handshake("127.0.0.1");
  REQUIRE(!c);
  char byte;
  boost::system::error_code ec1 = net::error::would_block;
  p.server->expires_after(std::chrono::milliseconds(200));
  p.server->async_read_some(net::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) { ec1 = ec; });
  p.io.run();
  p.io.restart();
  CHECK(ec1 == boost::beast::error::timeout);

  Pair q(pki);
  REQUIRE(!q.handshake("127.0.0.1").first);
  boost::system::error_code ec2 = net::error::would_block;
  std::size_t n2 = 0;
  q.server->expires_after(std::chrono::milliseconds(100));
  q.server->expires_never();
  q.server->async_read_some(net::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t n) {
    ec2 = ec;
    n2 = n;
  });
  net::steady_timer later(q.io, std::chrono::milliseconds(400));
  later.async_wait([&](auto) { net::async_write(*q.client, net::buffer("x", 1), [](auto, auto) {}); });
  q.io.run();
  CHECK(!ec2);
  CHECK(n2 == 1);
}
