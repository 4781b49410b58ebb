#include "gateway/server/https_server.h"

#include <boost/asio/strand.hpp>

#include "common/tls_certs.h"
#include "gateway/auth/client_cert_authenticator.h"
#include "gateway/server/http2_session.h"

namespace sluice::gateway {
namespace {
constexpr unsigned char kH2AndHttp1[] = "\x02h2\x08http/1.1";
constexpr unsigned char kHttp1[] = "\x08http/1.1";

// ALPN: h2 when the client offers it (client-go, curl, browsers) and http2 is on, else HTTP/1.1.
// A client that offers neither, or sends no ALPN at all, gets HTTP/1.1.
int select_protocol(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                    void* arg) {
  const bool h2 = arg != nullptr;
  const unsigned char* ours = h2 ? kH2AndHttp1 : kHttp1;
  const unsigned int ours_len = h2 ? sizeof kH2AndHttp1 - 1 : sizeof kHttp1 - 1;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}
}  // namespace

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
  SSL_CTX_set_alpn_select_cb(tls_.native_handle(), &select_protocol, ctx.config.http2 ? this : nullptr);
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
      handshake(std::make_unique<common::TlsSocketStream>(std::move(socket), tls_.native_handle()));
    }
    accept();
  });
}

void HttpsServer::handshake(std::unique_ptr<common::TlsSocketStream> tls) {
  auto& stream = *tls;
  stream.expires_after(std::chrono::seconds(ctx_.config.limits.header_timeout_seconds));
  stream.async_handshake(net::ssl::stream_base::server, [this, tls = std::move(tls)](boost::system::error_code ec) mutable {
    if (ec) return;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(tls->native_handle(), &alpn, &alpn_len);
    if (alpn_len == 2 && alpn[0] == 'h' && alpn[1] == '2') {
      tls->expires_never();
      return std::make_shared<Http2Session>(std::move(tls), ctx_, stages_)->start();
    }
    std::make_shared<HttpsSession>(std::move(tls), ctx_, stages_)->start();
  });
}

}  // namespace sluice::gateway
