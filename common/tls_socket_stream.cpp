#include "common/tls_socket_stream.h"

#include <openssl/x509v3.h>

#include <boost/beast/core/error.hpp>

#include <stdexcept>

namespace sluice::common {

TlsSocketStream::TlsSocketStream(net::ip::tcp::socket socket, SSL_CTX* ctx)
    : socket_(std::move(socket)), ssl_(SSL_new(ctx)), timer_(socket_.get_executor()) {
  if (!ssl_) throw std::runtime_error("SSL_new failed");
  // Partial writes: a write completes per record, as write_some should. Moving buffer: a retried
  // SSL_write may come from a gathered copy at another address with the same bytes.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsSocketStream::TlsSocketStream(const executor_type& ex, SSL_CTX* ctx)
    : TlsSocketStream(net::ip::tcp::socket(ex), ctx) {}

TlsSocketStream::~TlsSocketStream() { SSL_free(ssl_); }

bool TlsSocketStream::set_server_name(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str()) == 1;
  return SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1 && SSL_set1_host(ssl_, host.c_str()) == 1;
}

bool TlsSocketStream::attach() {
  if (attached_) return true;
  if (!socket_.is_open()) return false;
  boost::system::error_code ec;
  socket_.native_non_blocking(true, ec);  // OpenSSL calls recv/send itself: they must not block
  if (ec || SSL_set_fd(ssl_, socket_.native_handle()) != 1) return false;
  attached_ = true;
  return true;
}

void TlsSocketStream::expires_after(std::chrono::steady_clock::duration d) {
  timed_out_ = false;
  timer_.expires_after(d);
  // The stream may be gone when an expiry that was already queued runs: hence the weak token.
  timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;  // cancelled, re-armed, or destroyed
    timed_out_ = true;
    close();
  });
}

void TlsSocketStream::expires_never() { timer_.cancel(); }

void TlsSocketStream::close() {
  timer_.cancel();
  boost::system::error_code ec;
  socket_.close(ec);
}

boost::system::error_code TlsSocketStream::map_wait_error(boost::system::error_code ec) const {
  if (timed_out_) return boost::beast::error::timeout;
  return ec;
}

boost::system::error_code TlsSocketStream::ssl_error(int err) const {
  if (timed_out_) return boost::beast::error::timeout;
  switch (err) {
    case SSL_ERROR_ZERO_RETURN:
      return net::error::eof;  // close_notify
    case SSL_ERROR_SYSCALL: {
      const int e = errno;
      // A peer that closes without close_notify: as the end of the stream, like most HTTP stacks.
      if (ERR_peek_error() == 0 && (e == 0 || e == ECONNRESET || e == EPIPE)) return net::error::eof;
      return {e ? e : EIO, boost::system::system_category()};
    }
    default: {
      const unsigned long code = ERR_get_error();
      if (code == 0) return net::error::eof;
      return {static_cast<int>(code), net::error::get_ssl_category()};
    }
  }
}

}  // namespace sluice::common
