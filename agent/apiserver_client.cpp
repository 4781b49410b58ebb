#include "agent/apiserver_client.h"

#include <boost/asio/connect.hpp>
#include <spdlog/spdlog.h>

#include <limits>

namespace sluice::agent {
namespace {
constexpr std::size_t kMaxIdleConnections = 32;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

ConnectionPool::ConnectionPool(net::io_context& io, UpstreamConfig config)
    : io_(io), config_(std::move(config)), tls_(net::ssl::context::tls_client) {
  tls_.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                   net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
  // OpenSSL frees a connection's record buffers while it is idle: thousands of open watches.
  SSL_CTX_set_mode(tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  tls_.set_verify_mode(net::ssl::verify_peer);
  if (config_.ca_pem.empty()) tls_.set_default_verify_paths();
  else tls_.add_certificate_authority(net::buffer(config_.ca_pem));
  if (!config_.client_cert_pem.empty()) {
    tls_.use_certificate_chain(net::buffer(config_.client_cert_pem));
    tls_.use_private_key(net::buffer(config_.client_key_pem), net::ssl::context::pem);
  }
}

std::unique_ptr<UpstreamStream> ConnectionPool::take_idle() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return nullptr;
  auto s = std::move(idle_.back());
  idle_.pop_back();
  return s;
}

void ConnectionPool::give_back(std::unique_ptr<UpstreamStream> stream) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(stream));
}

ApiServerExchange::ApiServerExchange(ConnectionPool& pool, pb::RequestHead head, FrameSink sink)
    : pool_(pool), strand_(net::make_strand(pool.io())), head_(std::move(head)), sink_(std::move(sink)) {}

void ApiServerExchange::add_body(std::string chunk) {
  net::post(strand_, [self = shared_from_this(), chunk = std::move(chunk)]() mutable { self->body_ += chunk; });
}

void ApiServerExchange::end_of_body() {
  net::post(strand_, [self = shared_from_this()] { self->connect(false); });
}

void ApiServerExchange::cancel() {
  net::post(strand_, [self = shared_from_this()] {
    if (self->done_) return;
    self->done_ = true;
    // Closing the socket is how the API server learns that the client has gone.
    if (self->stream_) self->stream_->close();
  });
}

void ApiServerExchange::connect(bool fresh) {
  if (done_) return;
  if (!fresh) {
    stream_ = pool_.take_idle();
    from_pool_ = stream_ != nullptr;
    if (stream_) return send_request();
  }
  from_pool_ = false;
  stream_ = std::make_unique<UpstreamStream>(strand_, pool_.tls().native_handle());
  const auto& cfg = pool_.config();
  if (!stream_->set_server_name(cfg.host)) return fail("cannot set the API server's TLS name");
  auto resolver = std::make_shared<net::ip::tcp::resolver>(strand_);
  resolver->async_resolve(cfg.host, std::to_string(cfg.port),
                          [self = shared_from_this(), resolver](beast::error_code ec, net::ip::tcp::resolver::results_type r) {
                            if (ec) return self->fail("cannot resolve the API server: " + ec.message());
                            self->stream_->expires_after(std::chrono::seconds(10));
                            net::async_connect(
                                self->stream_->socket(), r, [self](beast::error_code ec2, const net::ip::tcp::endpoint&) {
                                  if (ec2) return self->fail("cannot connect to the API server: " + ec2.message());
                                  self->stream_->async_handshake(net::ssl::stream_base::client, [self](beast::error_code ec3) {
                                    if (ec3) return self->fail("TLS handshake with the API server failed: " + ec3.message());
                                    self->send_request();
                                  });
                                });
                          });
}

void ApiServerExchange::send_request() {
  if (done_) return;
  const auto& cfg = pool_.config();
  request_ = std::make_shared<http::request<http::string_body>>();
  request_->method_string(head_.method());
  request_->target(head_.target());
  request_->version(11);
  bool upgrade = false;
  for (const auto& h : head_.headers()) {
    const std::string n = lower(h.name());
    if (n == "host" || n == "content-length") continue;
    if (n == "upgrade") upgrade = true;
    request_->insert(h.name(), h.value());
  }
  request_->set(http::field::host, cfg.host + ":" + std::to_string(cfg.port));
  if (const std::string token = cfg.bearer_token(); !token.empty())
    request_->set(http::field::authorization, "Bearer " + token);
  request_->body() = body_;
  if (!upgrade) request_->keep_alive(true);
  if (!body_.empty() || head_.method() == "POST" || head_.method() == "PUT" || head_.method() == "PATCH")
    request_->prepare_payload();
  stream_->expires_after(std::chrono::seconds(30));
  http::async_write(*stream_, *request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (self->done_) return;
    if (ec) {
      // A pooled connection the server closed meanwhile: one more try on a fresh one.
      if (self->from_pool_) return self->connect(true);
      return self->fail("cannot send the request to the API server: " + ec.message());
    }
    self->request_sent_ = true;
    self->read_head();
  });
}

void ApiServerExchange::read_head() {
  parser_ = std::make_unique<http::response_parser<http::buffer_body>>();
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // streamed, never held whole
  parser_->header_limit(1 << 20);
  if (head_.method() == "HEAD") parser_->skip(true);  // a HEAD response has no body, whatever its length says
  // Long-running responses (watch, logs -f, exec) have no deadline; the header must come in time.
  stream_->expires_after(std::chrono::seconds(60));
  http::async_read_header(*stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (self->done_) return;
    if (ec) {
      if (self->from_pool_ && ec == http::error::end_of_stream) return self->connect(true);
      return self->fail("no response from the API server: " + ec.message());
    }
    self->stream_->expires_never();
    self->request_.reset();  // answered: no retry will need it, and a watch lives long
    self->body_ = std::string();
    const auto& res = self->parser_->get();
    pb::AgentFrame frame;
    auto* rh = frame.mutable_response_head();
    rh->set_status(res.result_int());
    self->upgraded_ = res.result_int() == 101;
    for (const auto& f : res) {
      auto* h = rh->add_headers();
      h->set_name(std::string(f.name_string()));
      h->set_value(std::string(f.value()));
    }
    if (!self->upgraded_) {
      rh->set_body(self->parse_buffered_body());
      if (self->parser_->is_done()) {
        rh->set_complete(true);
        return self->finish(self->parser_->get().keep_alive(), std::move(frame));
      }
    }
    self->emit(std::move(frame), [self] {
      if (self->upgraded_) {
        // Bytes the API server sent right after its 101 are already in our buffer.
        if (self->buffer_.size() > 0) {
          pb::AgentFrame f;
          f.set_upgraded(beast::buffers_to_string(self->buffer_.data()));
          self->buffer_.consume(self->buffer_.size());
          return self->emit(std::move(f), [self] { self->relay_from_upstream(); });
        }
        return self->relay_from_upstream();
      }
      self->read_body();
    });
  });
}

std::string ApiServerExchange::parse_buffered_body() {
  // Only what already arrived with the head: parsing it never waits, so a watch's head is never
  // held back, while a small response leaves as a single frame.
  // Not eager: an eager parser that consumed body bytes and then meets a partial chunk header
  // makes async_read_some wait for more input, holding a watch event back.
  std::string body(buffer_.size(), '\0');
  parser_->get().body().data = body.data();
  parser_->get().body().size = body.size();
  while (buffer_.size() > 0 && !parser_->is_done()) {
    beast::error_code ec;
    const std::size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec || used == 0) break;
  }
  body.resize(body.size() - parser_->get().body().size);
  return body;
}

void ApiServerExchange::read_body() {
  if (done_) return;
  if (parser_->is_done()) return finish(parser_->get().keep_alive());
  chunk_.resize(read_bytes_);
  filled_ = 0;
  read_more();
}

bool ApiServerExchange::more_waiting() {
  // Decrypted or received bytes that a read takes without waiting. A TLS sender writes whole
  // records, so bytes in the socket are a record on its way, never a wait for the next event.
  beast::error_code ec;
  return SSL_has_pending(stream_->native_handle()) == 1 || stream_->socket().available(ec) > 0;
}

void ApiServerExchange::read_more() {
  parser_->get().body().data = chunk_.data() + filled_;
  parser_->get().body().size = chunk_.size() - filled_;
  // read_some, not read: a watch event must leave as soon as it arrives, not when the frame is full.
  http::async_read_some(*stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (self->done_) return;
    if (ec == http::error::need_buffer) ec = {};
    if (ec && ec != http::error::end_of_stream) return self->fail("the API server's response broke off: " + ec.message());
    const std::size_t room = self->chunk_.size() - self->filled_;
    self->filled_ += room - self->parser_->get().body().size;
    if (!ec && !self->parser_->is_done() && self->filled_ < self->chunk_.size() && self->more_waiting())
      return self->read_more();
    const std::size_t n = self->filled_;
    // Grow while frames fill up (a list streaming), fall back when they stay small (an idle
    // watch then holds kMinChunkBytes, not kChunkBytes, while it waits).
    if (n == self->chunk_.size()) self->read_bytes_ = std::min(kChunkBytes, self->read_bytes_ * 2);
    else if (n <= kMinChunkBytes) self->read_bytes_ = kMinChunkBytes;
    if (n == 0) {
      if (self->parser_->is_done() || ec) return self->finish(!ec && self->parser_->get().keep_alive());
      return self->read_body();
    }
    pb::AgentFrame frame;
    self->chunk_.resize(n);
    frame.set_body(std::move(self->chunk_));
    self->chunk_ = std::string();
    self->emit(std::move(frame), [self] { self->read_body(); });
  });
}

void ApiServerExchange::relay_from_upstream() {
  if (done_) return;
  chunk_.resize(kUpgradedChunkBytes);  // one TLS record: a read never returns more
  stream_->async_read_some(net::buffer(chunk_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    if (self->done_) return;
    if (n > 0) {
      pb::AgentFrame frame;
      self->chunk_.resize(n);
      frame.set_upgraded(std::move(self->chunk_));
      self->chunk_ = std::string();
      return self->emit(std::move(frame), [self, ec] {
        if (ec) return self->finish(false);
        self->relay_from_upstream();
      });
    }
    if (ec) self->finish(false);
  });
}

void ApiServerExchange::upgraded_from_client(std::string data, std::function<void()> written) {
  net::post(strand_, [self = shared_from_this(), data = std::make_shared<std::string>(std::move(data)),
                      written = std::move(written)]() mutable {
    if (self->done_ || !self->stream_) return written();
    net::async_write(*self->stream_, net::buffer(*data), [self, data, written](beast::error_code ec, std::size_t) {
      if (ec) self->fail("the API server closed the upgraded connection");
      written();
    });
  });
}

void ApiServerExchange::emit(pb::AgentFrame frame, std::function<void()> next) {
  sink_(std::move(frame), [self = shared_from_this(), next = std::move(next)](bool ok) {
    net::post(self->strand_, [self, next, ok] {
      if (!ok) {
        // The gateway side is gone: drop the upstream request with it.
        if (!self->done_ && self->stream_) {
          self->done_ = true;
          self->stream_->close();
        }
        return;
      }
      next();
    });
  });
}

void ApiServerExchange::finish(bool reuse, std::optional<pb::AgentFrame> last) {
  if (done_) return;
  done_ = true;
  if (reuse && !upgraded_ && buffer_.size() == 0) pool_.give_back(std::move(stream_));
  else if (stream_) stream_->close();
  if (!last) last.emplace().mutable_end();
  sink_(std::move(*last), [](bool) {});
}

void ApiServerExchange::fail(const std::string& reason) {
  if (done_) return;
  done_ = true;
  spdlog::warn("exchange {} {} failed: {}", head_.method(), head_.target(), reason);
  if (stream_) stream_->close();
  pb::AgentFrame reset;
  reset.mutable_reset()->set_reason(reason);
  sink_(std::move(reset), [](bool) {});
}

}  // namespace sluice::agent
