#include "gateway/server/https_server.h"

#include <boost/asio/strand.hpp>

#include "common/tls_certs.h"
#include "gateway/auth/client_cert_authenticator.h"

namespace sluice::gateway {

HttpsServer::HttpsServer(net::io_context& io, ProxyContext& ctx, StageFactory stages)
    : io_(io), ctx_(ctx), stages_(std::move(stages)), tls_(net::ssl::context::tls_server), acceptor_(io) {
  tls_.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                   net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  // OpenSSL frees a connection's record buffers while it is idle: thousands of open watches.
  SSL_CTX_set_mode(tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  try {
    tls_.use_certificate_chain_file(ctx.config.tls.cert_file);
    tls_.use_private_key_file(ctx.config.tls.key_file, net::ssl::context::pem);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot load the gateway's TLS certificate (" + ctx.config.tls.cert_file + ", " +
                             ctx.config.tls.key_file + "): " + e.what());
  }
  if (!ctx.config.client_ca_file.empty()) require_client_certificates_from(tls_.native_handle(), ctx.config.client_ca_file);
  std::string host;
  unsigned short port = 0;
  split_host_port(ctx.config.listen, host, port);
  net::ip::tcp::endpoint ep(net::ip::make_address(host), port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void HttpsServer::accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](boost::system::error_code ec, net::ip::tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      socket.set_option(net::ip::tcp::no_delay(true));
      std::make_shared<HttpsSession>(std::move(socket), tls_, ctx_, stages_)->start();
    }
    accept();
  });
}

}  // namespace sluice::gateway
