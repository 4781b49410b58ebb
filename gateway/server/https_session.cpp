#include "gateway/server/https_session.h"

#include <spdlog/spdlog.h>

#include "common/k8s_status.h"
#include "gateway/pipeline/request_rewrite.h"
#include "gateway/server/http1_framing.h"
#include "gateway/server/source_address.h"

namespace sluice::gateway {
namespace {
// A response still streaming after this is long-running (watch, logs -f).
constexpr auto kLongRunningAfter = std::chrono::milliseconds(500);

}  // namespace

HttpsSession::HttpsSession(std::unique_ptr<common::TlsSocketStream> tls, ProxyContext& ctx, const StageFactory& stages)
    : tls_(std::move(tls)), stream_(*tls_), ctx_(ctx), stages_(stages) {
  ctx_.metrics.connection_opened(false);
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = ep.address().to_string();
}

template <class F>
auto HttpsSession::on_io(F f) {
  return [self = shared_from_this(), f = std::move(f)](auto&&... args) mutable {
    try {
      f(std::forward<decltype(args)>(args)...);
    } catch (const std::exception& e) {
      spdlog::error("connection from {} failed and was closed (a bug: please report it): {}", self->remote_, e.what());
      self->close();
    }
  };
}

void HttpsSession::read_request() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(ctx_.config.limits.max_header_bytes));
  parser_->body_limit(ctx_.config.limits.max_body_bytes);
  if (buffer_.size() > 0) return read_header();  // pipelined: the next request has begun
  // Between requests a connection may idle for idle_timeout; once a request's first byte is in,
  // its header must be complete within header_timeout (a slow sender of headers is cut off).
  stream_.expires_after(std::chrono::seconds(ctx_.config.limits.idle_timeout_seconds));
  stream_.async_read_some(buffer_.prepare(4096), on_io([this](beast::error_code ec, std::size_t n) {
    if (ec) return close();
    buffer_.commit(n);
    read_header();
  }));
}

void HttpsSession::read_header() {
  stream_.expires_after(std::chrono::seconds(ctx_.config.limits.header_timeout_seconds));
  http::async_read_header(stream_, buffer_, *parser_, on_io([this](beast::error_code ec, std::size_t) { on_header(ec); }));
}

void HttpsSession::on_header(beast::error_code ec) {
  if (ec == http::error::header_limit) {
    keep_alive_ = false;
    return reply_status(431, "request headers are larger than the gateway accepts", "RequestHeaderFieldsTooLarge");
  }
  if (ec == http::error::body_limit) return on_request(ec);  // a Content-Length over the limit: known at once
  if (ec) return close();
  stream_.expires_after(std::chrono::seconds(ctx_.config.limits.header_timeout_seconds * 6));
  http::async_read(stream_, buffer_, *parser_, on_io([this](beast::error_code ec2, std::size_t) { on_request(ec2); }));
}

void HttpsSession::reply_status(int code, const std::string& message, const std::string& reason) {
  local_reply(code, "application/json", common::make_status(code, message, reason).dump(), {});
}

void HttpsSession::on_request(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    return reply_status(413, "the request body is larger than the gateway accepts (" +
                                 std::to_string(ctx_.config.limits.max_body_bytes) + " bytes)", "RequestEntityTooLarge");
  }
  if (ec) return close();
  stream_.expires_never();
  auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  pipeline::RequestContext r = request_context_from(req);
  r.remote = remote_;
  const auto forwarded_for = req["X-Forwarded-For"];
  r.source_ip = source_address(remote_, std::string_view(forwarded_for.data(), forwarded_for.size()), ctx_.trusted_proxies);
  r.tls = stream_.native_handle();
  if (const char* sni = SSL_get_servername(r.tls, TLSEXT_NAMETYPE_host_name)) r.server_name = sni;
  r.sni_cluster = cluster_named_by(r.server_name, ctx_.config.tls.cluster_name_suffix);
  parser_.reset();  // the context holds what the request said: a day-long watch keeps one copy
  if (connection_id_.empty()) connection_id_ = audit::new_audit_id();
  r.connection_id = connection_id_;
  responding_ = chunked_ = upgraded_ = false;
  auto& metrics = ctx_.metrics;
  chain_ = std::make_shared<pipeline::Chain>(
      stream_.get_executor(), stages_(), shared_from_this(),
      [&metrics](const pipeline::RequestContext& c, int code, double seconds) {
        metrics.request_done(c.cluster, c.metrics_verb(), code, seconds);
      },
      std::move(r));
  chain_->start();
}

void HttpsSession::local_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers) {
  std::string data = serialize_reply(code, content_type, std::move(body), headers, keep_alive_);
  write(std::move(data), [this, keep = keep_alive_](bool) {  // runs only once written
    if (!keep) return linger_then_close();
    read_request();
  });
}

void HttpsSession::watch_client_while_waiting() {
  keep_alive_ = false;  // the bytes the probe reads belong to nobody: no reuse after this
  if (!probing_) probe_waiting_client();
}

void HttpsSession::stop_watching(std::function<void()> resume) {
  if (!probing_) return resume();
  resume_ = std::move(resume);  // once the probe's read is cancelled: one read at a time
  beast::error_code ec;
  stream_.socket().cancel(ec);
}

void HttpsSession::probe_waiting_client() {
  // While reviewers decide, a read notices kubectl giving up (Ctrl-C, its own timeout): the
  // chain then cancels the wait (the approval) instead of waiting for nobody.
  probing_ = true;
  stream_.async_read_some(net::buffer(probe_buf_), on_io([this](beast::error_code ec, std::size_t) {
    probing_ = false;
    if (auto resume = std::exchange(resume_, nullptr)) return resume();
    if (!ec) return probe_waiting_client();  // a pipelined request: dropped, the connection closes after
    client_gone();
  }));
}

void HttpsSession::send_head(pipeline::ResponseHead head, std::string body, bool end, Written written) {
  responding_ = true;
  upgraded_ = head.status == 101;
  std::string data = serialize_head(head, keep_alive_, chunked_);
  if (!body.empty()) data += chunked_ ? chunk_encode(body) : body;
  if (end && chunked_) data += kLastChunk;
  if (chunked_ && !end) {
    // Listen for the client going away during a long-running response, so the cluster-side
    // request is cancelled with it.
    long_running_timer_.emplace(stream_.get_executor());
    long_running_timer_->expires_after(kLongRunningAfter);
    long_running_timer_->async_wait(on_io([this](beast::error_code ec) {
      if (!ec && responding_ && !upgraded_) watch_streaming_client();
    }));
  }
  write(std::move(data), std::move(written));
}

void HttpsSession::send_data(std::string data, bool end, Written written) {
  if (chunked_) {
    if (!data.empty()) data = chunk_encode(data);
    if (end) data += kLastChunk;
  }
  if (data.empty()) {
    if (written) written(true);
    return;
  }
  write(std::move(data), std::move(written));
}

void HttpsSession::read_upgraded(std::function<void(std::optional<std::string>)> got) {
  if (buffer_.size() > 0) {  // what the client sent after its request belongs to the upgraded stream
    std::string early = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    return net::post(stream_.get_executor(),
                     on_io([got = std::move(got), early = std::move(early)]() mutable { got(std::move(early)); }));
  }
  read_buf_.resize(16 * 1024);
  stream_.async_read_some(net::buffer(read_buf_), on_io([this, got = std::move(got)](beast::error_code ec, std::size_t n) {
    if (ec) return got(std::nullopt);
    got(std::string(read_buf_.data(), n));
  }));
}

void HttpsSession::finish_response(bool reusable) {
  responding_ = false;
  if (long_running_timer_) long_running_timer_->cancel();
  if (reusable && keep_alive_ && !watching_ && !upgraded_) return read_request();
  close();
}

void HttpsSession::watch_streaming_client() {
  watching_ = true;  // this connection is not reused after a long-running response
  stream_.async_read_some(net::buffer(probe_buf_), on_io([this](beast::error_code ec, std::size_t) {
    if (!responding_) return;
    if (ec) return client_gone();
    watch_streaming_client();
  }));
}

// Writes go out one at a time, in order: a frame's data, an idle flush and the last chunk may meet.
void HttpsSession::write(std::string data, Written written) {
  out_.push_back({std::move(data), std::move(written)});
  if (!writing_) write_next();
}

void HttpsSession::write_next() {
  if (out_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto item = std::make_shared<PendingWrite>(std::move(out_.front()));
  out_.pop_front();
  net::async_write(stream_, net::buffer(item->data), on_io([this, item](beast::error_code ec, std::size_t) {
    if (ec) {
      writing_ = false;
      out_.clear();
      return client_gone();
    }
    if (item->written) item->written(true);
    write_next();
  }));
}

void HttpsSession::client_gone() {
  if (chain_) chain_->client_gone();  // the stage holding the request cancels what it waits for
  close();
}

void HttpsSession::linger_then_close() {
  // The client may still be sending the request we refused (an oversized header or body): closing
  // with unread input makes TCP reset the connection, and the client would lose our answer. Read
  // and drop what comes for a short while, as nginx's lingering close does.
  if (!lingering_) {
    lingering_ = true;
    stream_.expires_after(std::chrono::seconds(2));
    read_buf_.resize(16 * 1024);
  }
  stream_.async_read_some(net::buffer(read_buf_), on_io([this](beast::error_code ec, std::size_t) {
    if (ec) return close();
    linger_then_close();
  }));
}

void HttpsSession::close() {
  if (closed_) return;
  closed_ = true;
  if (chain_) chain_->client_gone();  // a request still in flight ends with its connection
  if (long_running_timer_) long_running_timer_->cancel();
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

}  // namespace sluice::gateway
