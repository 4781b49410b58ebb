// The client-facing HTTPS listener: TLS 1.2+, one session per connection on its own strand,
// HTTP/2 (Http2Session) or HTTP/1.1 (HttpsSession) as ALPN chose.
#pragma once
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "gateway/server/https_session.h"

namespace sluice::gateway {

class HttpsServer {
 public:
  // Throws std::runtime_error when the certificate cannot be loaded or the address bound.
  HttpsServer(net::io_context& io, ProxyContext& ctx, StageFactory stages);
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void start() { accept(); }

 private:
  void accept();
  // TLS first, then the session for the protocol ALPN chose.
  void handshake(std::unique_ptr<common::TlsSocketStream> tls);
  net::io_context& io_;
  ProxyContext& ctx_;
  const StageFactory stages_;
  net::ssl::context tls_;
  net::ip::tcp::acceptor acceptor_;
};

}  // namespace sluice::gateway
