// A TLS stream in which OpenSSL reads and writes the socket itself, for Beast and Asio algorithms
// (AsyncReadStream/AsyncWriteStream). Why not asio::ssl::stream: that one stages every byte
// through two 17 KiB vectors and a BIO pair of two more 17 KiB buffers, 68 KiB per connection for
// as long as it lives, which made TLS the bulk of an idle watch's memory. Here an idle read waits
// for the socket before it calls SSL_read and gives OpenSSL's record buffers back first, so an
// idle connection keeps OpenSSL's SSL object and nothing else.
//
// Operations wait for socket readiness with Asio and retry the OpenSSL call. One read and one
// write may be outstanding at once (an upgraded stream relays both ways); all handlers run on the
// socket's executor, which must be a strand when the io_context has several threads.
#pragma once
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sluice::common {

namespace net = boost::asio;

class TlsSocketStream {
 public:
  using executor_type = net::any_io_executor;
  using handshake_type = net::ssl::stream_base::handshake_type;

  TlsSocketStream(net::ip::tcp::socket socket, SSL_CTX* ctx);
  // A client stream, not yet connected: connect socket() first, then handshake.
  TlsSocketStream(const executor_type& ex, SSL_CTX* ctx);
  ~TlsSocketStream();
  TlsSocketStream(const TlsSocketStream&) = delete;
  TlsSocketStream& operator=(const TlsSocketStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  net::ip::tcp::socket& socket() { return socket_; }
  SSL* native_handle() { return ssl_; }
  // Client side: the server's certificate must name `host` (a DNS name, sent as SNI, or an IP
  // address); the context's verify mode decides whether the chain is checked at all.
  bool set_server_name(const std::string& host);

  // A deadline for whatever is pending or starts until the next call: when it passes the socket
  // is closed and the pending operations fail with beast::error::timeout.
  void expires_after(std::chrono::steady_clock::duration d);
  void expires_never();
  void close();

  template <class Handler>
  auto async_handshake(handshake_type type, Handler&& handler) {
    attach();
    if (type == handshake_type::client) SSL_set_connect_state(ssl_);
    else SSL_set_accept_state(ssl_);
    return net::async_compose<Handler, void(boost::system::error_code)>(
        Op<false, HandshakeAttempt>(this, HandshakeAttempt{ssl_}), handler, socket_);
  }

  template <class MutableBufferSequence, class Handler>
  auto async_read_some(const MutableBufferSequence& buffers, Handler&& handler) {
    return net::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        Op<true, ReadAttempt>(this, ReadAttempt{ssl_, first_buffer(buffers)}), handler, socket_);
  }

  template <class ConstBufferSequence, class Handler>
  auto async_write_some(const ConstBufferSequence& buffers, Handler&& handler) {
    // One TLS record per write: gather a sequence of small pieces (a response head) first.
    WriteAttempt attempt{ssl_, {}, nullptr};
    attempt.data = gather(buffers, attempt.gathered);
    return net::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        Op<true, WriteAttempt>(this, std::move(attempt)), handler, socket_);
  }

 private:
  static constexpr std::size_t kGatherBytes = 16 * 1024;

  bool attach();
  boost::system::error_code map_wait_error(boost::system::error_code ec) const;
  boost::system::error_code ssl_error(int err) const;

  // One OpenSSL call, returning its result (1: done) and the bytes it moved. `slot` picks the byte
  // a readiness peek writes into (a read and a write may wait at once).
  struct HandshakeAttempt {
    static constexpr int slot = 0;
    SSL* ssl;
    bool wait_first() const { return false; }
    int operator()(std::size_t&) const { return SSL_do_handshake(ssl); }
  };
  struct ReadAttempt {
    static constexpr int slot = 0;
    SSL* ssl;
    net::mutable_buffer data;
    // OpenSSL allocates its 16 KiB record buffer when a read starts and keeps it while the read
    // waits for the socket: an idle watch would hold one per connection. So wait first, unless
    // OpenSSL already holds bytes (then the read must not wait: the socket may stay quiet).
    bool wait_first() const { return data.size() > 0 && SSL_has_pending(ssl) == 0; }
    int operator()(std::size_t& n) const { return data.size() == 0 ? 1 : SSL_read_ex(ssl, data.data(), data.size(), &n); }
  };
  struct WriteAttempt {
    static constexpr int slot = 1;
    SSL* ssl;
    net::const_buffer data;
    std::shared_ptr<std::vector<char>> gathered;  // owns `data` when pieces were gathered
    bool wait_first() const { return false; }
    int operator()(std::size_t& n) const { return data.size() == 0 ? 1 : SSL_write_ex(ssl, data.data(), data.size(), &n); }
  };

  // Tries the OpenSSL call; when OpenSSL wants the socket readable or writable, waits for that
  // and tries again. A result on the first try is posted, never delivered inside the initiating
  // call (Asio's rule for asynchronous operations).
  //
  // Readable is waited for with a one-byte MSG_PEEK receive, not async_wait: Asio tries a receive
  // at once under the descriptor's lock, while a wait registered after OpenSSL saw EAGAIN could
  // miss the edge-triggered event another io thread consumed meanwhile, and hang.
  template <bool WithSize, class Attempt>
  struct Op {
    Op(TlsSocketStream* s, Attempt a) : stream(s), attempt(std::move(a)) {}
    TlsSocketStream* stream;
    Attempt attempt;
    int state = 0;  // 0: first try, 1: waited since, 2: result posted
    boost::system::error_code result;
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (state == 0 && attempt.wait_first()) {
        state = 1;
        // Between records: give OpenSSL's record buffers back while the connection idles
        // (measured: RELEASE_BUFFERS alone left 16 KiB per idle connection). SSL_free_buffers
        // refuses while a record is half read or a write has bytes left.
        SSL_free_buffers(stream->ssl_);
        return wait_readable(self);
      }
      if (state != 2) {
        const bool first = state == 0;
        state = 1;
        if (ec) {
          result = stream->map_wait_error(ec);
        } else {
          ERR_clear_error();
          const int r = attempt(bytes);
          if (r != 1) {
            const int err = SSL_get_error(stream->ssl_, r);
            if (err == SSL_ERROR_WANT_READ) return wait_readable(self);
            if (err == SSL_ERROR_WANT_WRITE) return stream->socket_.async_wait(net::socket_base::wait_write, std::move(self));
            result = stream->ssl_error(err);
            bytes = 0;
          }
        }
        if (first) {
          state = 2;
          net::post(stream->socket_.get_executor(), std::move(self));
          return;
        }
      }
      if constexpr (WithSize) self.complete(result, bytes);
      else self.complete(result);
    }

    // After a peek: the socket is readable, at its end, or failed; OpenSSL tells which, except
    // when we closed it ourselves (timeout, close()).
    template <class Self>
    void operator()(Self& self, boost::system::error_code ec, std::size_t) {
      if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor || !stream->socket_.is_open())
        return (*this)(self, ec ? ec : net::error::operation_aborted);
      (*this)(self, boost::system::error_code{});
    }

    template <class Self>
    void wait_readable(Self& self) {
      stream->socket_.async_receive(net::buffer(&stream->peek_[Attempt::slot], 1), net::socket_base::message_peek,
                                    std::move(self));
    }
  };

  template <class MutableBufferSequence>
  static net::mutable_buffer first_buffer(const MutableBufferSequence& buffers) {
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it)
      if (net::mutable_buffer b(*it); b.size() > 0) return b;
    return {};
  }

  template <class ConstBufferSequence>
  static net::const_buffer gather(const ConstBufferSequence& buffers, std::shared_ptr<std::vector<char>>& out) {
    auto it = net::buffer_sequence_begin(buffers);
    const auto end = net::buffer_sequence_end(buffers);
    while (it != end && net::const_buffer(*it).size() == 0) ++it;
    if (it == end) return {};
    net::const_buffer first(*it);
    if (first.size() >= kGatherBytes || std::next(it) == end) return first;
    out = std::make_shared<std::vector<char>>();
    out->reserve(kGatherBytes);
    for (; it != end && out->size() < kGatherBytes; ++it) {
      net::const_buffer piece(*it);
      const std::size_t take = std::min(piece.size(), kGatherBytes - out->size());
      const char* p = static_cast<const char*>(piece.data());
      out->insert(out->end(), p, p + take);
    }
    return net::buffer(*out);
  }

  net::ip::tcp::socket socket_;
  SSL* ssl_;
  net::steady_timer timer_;
  bool timed_out_ = false, attached_ = false;
  char peek_[2] = {};  // where readiness peeks put the byte they look at
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace sluice::common
