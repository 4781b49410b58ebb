#include "gateway/server/http2_session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "common/fifo.h"
#include "common/k8s_status.h"
#include "gateway/pipeline/request_rewrite.h"
#include "gateway/server/source_address.h"

namespace sluice::gateway {
namespace {
constexpr std::size_t kWriteBatch = 64 * 1024;            // frames gathered into one socket write
constexpr std::int32_t kStreamWindow = 1024 * 1024;       // what a client may send per stream unread
constexpr std::int32_t kConnectionWindow = 16 * 1024 * 1024;
constexpr auto kEarlyResetWindow = std::chrono::seconds(10);
constexpr auto kLingerTime = std::chrono::seconds(2);  // nginx's lingering_timeout is 5 s

// RFC 9113 8.2.2: connection-specific fields have no place in HTTP/2 (a client treats them as malformed).
bool connection_specific(const std::string& n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" || n == "transfer-encoding" ||
         n == "upgrade" || n == "te";
}

nghttp2_nv nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}
}  // namespace

// One stream: the request as it arrives, then the chain's Downstream for its answer.
class Http2Session::Stream : public pipeline::Downstream, public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::shared_ptr<Http2Session> session, std::int32_t id)
      : session_(std::move(session)), id_(id), opened_(std::chrono::steady_clock::now()) {}

  // A request still arriving after `deadline` (a slow sender, as HTTP/1.1's header and body
  // timeouts cut off) is answered 408 and read no further.
  void expire_if_slow(std::chrono::steady_clock::time_point now, std::chrono::seconds allowed) {
    if (requested_ || replied_ || now - opened_ < allowed) return;
    reply_status(408, "the request did not arrive in full within " + std::to_string(allowed.count()) + " s",
                 "Timeout");
  }

  // The request.
  void header(std::string_view name, std::string_view value) {
    header_bytes_ += name.size() + value.size() + 32;  // RFC 9113 6.5.2's accounting
    if (header_bytes_ > session_->ctx_.config.limits.max_header_bytes) {
      too_large_headers_ = true;
      return;
    }
    if (requested_) return;  // trailers: nothing reads them
    if (name == ":method") method_ = value;
    else if (name == ":path") path_ = value;
    else if (name == ":authority") authority_ = value;
    else if (!name.empty() && name[0] == ':') return;  // :scheme; :protocol is refused by nghttp2
    else if (name == "cookie") cookies_.emplace_back(value);  // RFC 9113 8.2.3: one field per crumb
    else headers_.emplace_back(std::string(name), std::string(value));
  }
  // false: over the limit, answered already
  bool body(const uint8_t* data, std::size_t len) {
    if (requested_ || replied_) return true;
    if (body_.size() + len > session_->ctx_.config.limits.max_body_bytes) {
      body_.clear();
      body_.shrink_to_fit();
      reply_status(413, "the request body is larger than the gateway accepts (" +
                            std::to_string(session_->ctx_.config.limits.max_body_bytes) + " bytes)",
                   "RequestEntityTooLarge");
      return false;
    }
    body_.append(reinterpret_cast<const char*>(data), len);
    return true;
  }
  bool replied() const { return replied_; }
  bool answered() const { return submitted_; }

  // The request is complete: the chain takes it.
  void start() {
    if (replied_) return;
    auto& s = *session_;
    if (too_large_headers_)
      return reply_status(431, "request headers are larger than the gateway accepts", "RequestHeaderFieldsTooLarge");
    if (method_ == "CONNECT")
      return reply_status(405, "CONNECT is not served over HTTP/2; exec, attach and port-forward use HTTP/1.1",
                          "MethodNotAllowed");
    requested_ = true;
    pipeline::RequestContext r;
    r.method = std::move(method_);
    r.target = std::move(path_);
    r.headers.reserve(headers_.size() + 2);
    if (!authority_.empty()) r.headers.emplace_back("host", authority_);
    for (auto& h : headers_) r.headers.push_back(std::move(h));
    if (!cookies_.empty()) {
      std::string joined;
      for (const auto& c : cookies_) joined += (joined.empty() ? "" : "; ") + c;
      r.headers.emplace_back("cookie", std::move(joined));
    }
    headers_.clear();
    cookies_.clear();
    r.body = std::move(body_);
    r.remote = s.remote_;
    r.source_ip = source_address(s.remote_, r.header("X-Forwarded-For"), s.ctx_.trusted_proxies);
    r.tls = s.tls_->native_handle();
    r.server_name = s.server_name_;
    r.sni_cluster = s.sni_cluster_;
    r.connection_id = s.connection_id_;
    auto& metrics = s.ctx_.metrics;
    chain_ = std::make_shared<pipeline::Chain>(
        s.tls_->get_executor(), s.stages_(), shared_from_this(),
        [&metrics](const pipeline::RequestContext& c, int code, double seconds) {
          metrics.request_done(c.cluster, c.metrics_verb(), code, seconds);
        },
        std::move(r));
    chain_->start();
  }

  // nghttp2 closed the stream (answered, reset by the client, or the connection ended).
  void closed() {
    if (stream_closed_) return;
    stream_closed_ = true;
    const bool handed_over = ended_ && out_.empty();
    out_.clear();
    // A response not yet handed over in full: the client left, and what the chain waits for ends.
    if (chain_ && !handed_over && !chain_->completed()) chain_->client_gone();
    chain_.reset();
  }

  // pipeline::Downstream
  void send_head(pipeline::ResponseHead head, std::string body, bool end, Written written) override {
    if (stream_closed_) return fail(std::move(written));
    if (head.status == 101) {  // never asked for over h2: nothing of an upgraded stream goes out
      nghttp2_submit_rst_stream(session_->h2_, NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
      session_->flush();
      return fail(std::move(written));
    }
    submit(head.status, head.headers, head.bodiless, std::move(body), end, std::move(written));
  }
  void send_data(std::string data, bool end, Written written) override {
    if (stream_closed_ || !submitted_) return fail(std::move(written));
    if (bodiless_) {
      if (written) session_->run_later([w = std::move(written)] { w(true); });
      return session_->flush();
    }
    out_.push_back({std::move(data), 0, std::move(written)});
    ended_ = ended_ || end;
    nghttp2_session_resume_data(session_->h2_, id_);
    session_->flush();
  }
  void read_upgraded(std::function<void(std::optional<std::string>)> got) override {
    boost::asio::post(session_->tls_->get_executor(), [got = std::move(got)] { got(std::nullopt); });
  }
  void finish_response(bool reusable) override {
    // A response broken off (the exchange failed after the head): the client must see it cut.
    if (!stream_closed_ && (!reusable || !ended_)) {
      nghttp2_submit_rst_stream(session_->h2_, NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
      session_->flush();
    }
  }
  void local_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers) override {
    HeaderList h = {{"content-type", content_type}, {"cache-control", "no-cache, private"}};
    for (const auto& [k, v] : headers) h.emplace_back(k, v);  // a Connection: close is dropped as hop-by-hop
    h.emplace_back("content-length", std::to_string(body.size()));
    replied_ = true;
    if (stream_closed_) return;
    submit(code, h, false, std::move(body), true, nullptr);
  }
  // Every stream's state is read all along: a reset stream reaches closed(), which tells the chain.
  void watch_client_while_waiting() override {}
  void stop_watching(std::function<void()> resume) override { resume(); }

  // nghttp2's data source: what of the answer the client's window takes now.
  ssize_t read_body(uint8_t* buf, std::size_t length, uint32_t* flags) {
    std::size_t n = 0;
    while (n < length && !out_.empty()) {
      auto& piece = out_.front();
      const std::size_t take = std::min(length - n, piece.data.size() - piece.offset);
      std::copy_n(piece.data.data() + piece.offset, take, buf + n);
      n += take;
      piece.offset += take;
      if (piece.offset == piece.data.size()) {
        if (piece.written) session_->run_later([w = std::move(piece.written)] { w(true); });
        out_.pop_front();
      }
    }
    if (out_.empty() && ended_) *flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (n == 0) return NGHTTP2_ERR_DEFERRED;
    return static_cast<ssize_t>(n);
  }

 private:
  struct Piece {
    std::string data;
    std::size_t offset = 0;
    Written written;
  };

  void reply_status(int code, const std::string& message, const std::string& reason) {
    local_reply(code, "application/json", common::make_status(code, message, reason).dump(), {});
  }

  // A written callback of a stream that can take nothing more: false, as HTTP/1.1's failed write.
  void fail(Written written) {
    if (written) session_->run_later([w = std::move(written)] { w(false); });
    session_->flush();
  }

  void submit(int status, const HeaderList& headers, bool bodiless, std::string body, bool end, Written written) {
    if (submitted_) return fail(std::move(written));
    submitted_ = true;
    bodiless_ = bodiless;
    std::vector<std::string> names;  // nghttp2 copies the fields at submit; these outlive that call
    names.reserve(headers.size());
    std::vector<nghttp2_nv> nva;
    nva.reserve(headers.size() + 1);
    const std::string status_name = ":status", status_value = std::to_string(status);
    nva.push_back(nv(status_name, status_value));
    for (const auto& [k, v] : headers) {
      names.push_back(lower_name(k));
      if (connection_specific(names.back())) continue;
      nva.push_back(nv(names.back(), v));
    }
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source* source, void*) -> ssize_t {
      return static_cast<Stream*>(source->ptr)->read_body(buf, length, flags);
    };
    if (bodiless) {
      ended_ = true;
      if (written) session_->run_later([w = std::move(written)] { w(true); });
    } else {
      out_.push_back({std::move(body), 0, std::move(written)});
      ended_ = end;
    }
    const int rv = nghttp2_submit_response(session_->h2_, id_, nva.data(), nva.size(), bodiless ? nullptr : &provider);
    if (rv != 0) spdlog::warn("HTTP/2 stream {} from {}: the response could not be sent: {}", id_, session_->remote_,
                              nghttp2_strerror(rv));
    session_->flush();
  }

  std::shared_ptr<Http2Session> session_;  // the connection outlives its streams' chains
  std::int32_t id_;
  std::chrono::steady_clock::time_point opened_;
  std::string method_, path_, authority_;
  HeaderList headers_;
  std::vector<std::string> cookies_;
  std::string body_;
  std::size_t header_bytes_ = 0;
  bool too_large_headers_ = false, requested_ = false, replied_ = false;
  bool submitted_ = false, bodiless_ = false, ended_ = false, stream_closed_ = false;
  common::Fifo<Piece> out_;
  std::shared_ptr<pipeline::Chain> chain_;
};

// nghttp2's callbacks, each a thin step into the session or its stream.
struct Http2Session::Callbacks {
  static Http2Session& of(void* user) { return *static_cast<Http2Session*>(user); }
  static std::shared_ptr<Stream> stream(Http2Session& s, std::int32_t id) {
    auto it = s.streams_.find(id);
    return it == s.streams_.end() ? nullptr : it->second;
  }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& s = of(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    s.streams_.emplace(frame->hd.stream_id, std::make_shared<Stream>(s.shared_from_this(), frame->hd.stream_id));
    return 0;
  }
  static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                    const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    if (auto st = stream(of(user), frame->hd.stream_id))
      st->header({reinterpret_cast<const char*>(name), namelen}, {reinterpret_cast<const char*>(value), valuelen});
    return 0;
  }
  static int data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
    auto& s = of(user);
    if (auto st = stream(s, id)) st->body(data, len);
    return 0;
  }
  static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& s = of(user);
    const auto type = frame->hd.type;
    if (type == NGHTTP2_RST_STREAM) {
      if (auto st = stream(s, frame->hd.stream_id); st && !st->answered()) s.early_reset();
      return 0;
    }
    if ((type == NGHTTP2_HEADERS || type == NGHTTP2_DATA) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
      if (auto st = stream(s, frame->hd.stream_id)) s.dispatch(st);
    return 0;
  }
  static int stream_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
    auto& s = of(user);
    auto it = s.streams_.find(id);
    if (it == s.streams_.end()) return 0;
    auto st = std::move(it->second);
    s.streams_.erase(it);
    s.run_later([st] { st->closed(); });
    if (s.streams_.empty()) s.arm_idle_timer();
    return 0;
  }
};

Http2Session::Http2Session(std::unique_ptr<common::TlsSocketStream> stream, ProxyContext& ctx,
                           const StageFactory& stages)
    : tls_(std::move(stream)), ctx_(ctx), stages_(stages), idle_timer_(tls_->get_executor()),
      sweep_timer_(tls_->get_executor()) {
  boost::system::error_code ec;
  auto ep = tls_->socket().remote_endpoint(ec);
  if (!ec) remote_ = ep.address().to_string();
  if (const char* sni = SSL_get_servername(tls_->native_handle(), TLSEXT_NAMETYPE_host_name)) server_name_ = sni;
  sni_cluster_ = cluster_named_by(server_name_, ctx_.config.tls.cluster_name_suffix);
  connection_id_ = audit::new_audit_id();
}

Http2Session::~Http2Session() {
  if (h2_) nghttp2_session_del(h2_);
}

void Http2Session::start() {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // nghttp2's own guard against floods of resets, above ours (which counts unanswered streams).
  nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_session_server_new2(&h2_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  const auto& limits = ctx_.config.limits;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.http2_max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(limits.max_header_bytes)},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
  };
  nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  ctx_.metrics.connection_opened(true);
  read_buf_.resize(16 * 1024);
  arm_idle_timer();
  sweep_slow_requests();
  flush();
  read();
}

void Http2Session::sweep_slow_requests() {
  const std::chrono::seconds every(ctx_.config.limits.header_timeout_seconds);
  sweep_timer_.expires_after(every);
  sweep_timer_.async_wait([self = shared_from_this(), every](boost::system::error_code ec) {
    if (ec || self->closed_) return;
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, st] : self->streams_) st->expire_if_slow(now, every * 6);  // HTTP/1.1's body allowance
    self->flush();
    self->sweep_slow_requests();
  });
}

void Http2Session::read() {
  reading_ = true;
  tls_->async_read_some(boost::asio::buffer(read_buf_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                   std::size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    if (ec) return self->close();
    if (self->lingering_) return self->read();  // dropped: the session has ended
    self->receiving_ = true;
    const auto rv = nghttp2_session_mem_recv(self->h2_, reinterpret_cast<const uint8_t*>(self->read_buf_.data()), n);
    self->receiving_ = false;
    if (rv < 0) {
      spdlog::info("HTTP/2 connection from {} closed: {}", self->remote_, nghttp2_strerror(static_cast<int>(rv)));
      self->flush();  // writes nghttp2's GOAWAY, then lingers
      if (!self->writing_) self->linger();
      return;
    }
    self->flush();
    if (nghttp2_session_want_read(self->h2_)) self->read();
  });
}

void Http2Session::run_later(std::function<void()> f) { later_.push_back(std::move(f)); }

void Http2Session::flush() {
  if (closed_ || receiving_) return;  // inside nghttp2's callbacks: read() flushes once they return
  if (!writing_) {
    while (write_buf_.size() < kWriteBatch) {
      const uint8_t* data = nullptr;
      const auto n = nghttp2_session_mem_send(h2_, &data);
      if (n < 0) return close();
      if (n == 0) break;
      write_buf_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
  }
  if (!later_.empty()) {
    // The data sources handed pieces over (or a stream ended): their senders go on, on their own
    // turn of the strand, never inside this call or nghttp2's callbacks.
    boost::asio::post(tls_->get_executor(), [self = shared_from_this(), fs = std::exchange(later_, {})] {
      for (const auto& f : fs) f();
    });
  }
  if (writing_) return;
  if (write_buf_.empty()) {
    if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_)) linger();
    return;
  }
  writing_ = true;
  boost::asio::async_write(*tls_, boost::asio::buffer(write_buf_),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->writing_ = false;
                             self->write_buf_.clear();
                             if (ec) return self->close();
                             self->flush();
                           });
}

void Http2Session::dispatch(const std::shared_ptr<Stream>& s) {
  // Outside nghttp2's callback: the chain's stages may answer at once, which submits frames.
  boost::asio::post(tls_->get_executor(), [self = shared_from_this(), s] {
    if (self->closed_ || self->lingering_) return;
    self->idle_timer_.cancel();
    s->start();
    self->flush();
  });
}

void Http2Session::early_reset() {
  const auto now = std::chrono::steady_clock::now();
  early_resets_.push_back(now);
  while (!early_resets_.empty() && now - early_resets_.front() > kEarlyResetWindow) early_resets_.pop_front();
  if (early_resets_.size() <= ctx_.config.limits.http2_max_early_resets) return;
  spdlog::warn("HTTP/2 connection from {} closed: it reset {} streams before they were answered within {} s "
               "(rapid reset, CVE-2023-44487)",
               remote_, early_resets_.size(), kEarlyResetWindow.count());
  ctx_.metrics.rapid_reset_refused();
  early_resets_.clear();
  nghttp2_session_terminate_session(h2_, NGHTTP2_ENHANCE_YOUR_CALM);
}

void Http2Session::arm_idle_timer() {
  if (closed_ || lingering_) return;
  idle_timer_.expires_after(std::chrono::seconds(ctx_.config.limits.idle_timeout_seconds));
  idle_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closed_ || !self->streams_.empty()) return;
    nghttp2_session_terminate_session(self->h2_, NGHTTP2_NO_ERROR);  // GOAWAY, then the close
    self->flush();
  });
}

void Http2Session::linger() {
  if (closed_ || lingering_) return;
  lingering_ = true;
  sweep_timer_.cancel();
  end_streams();
  boost::system::error_code ec;
  tls_->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) return close();
  idle_timer_.expires_after(kLingerTime);
  idle_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->close();
  });
  if (!reading_) read();  // ends at the client's close, or at the timer
}

void Http2Session::end_streams() {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, st] : streams) st->closed();  // their chains end with the connection (499)
}

void Http2Session::close() {
  if (closed_) return;
  closed_ = true;
  idle_timer_.cancel();
  sweep_timer_.cancel();
  end_streams();
  boost::system::error_code ec;
  tls_->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  tls_->close();
}

}  // namespace sluice::gateway
