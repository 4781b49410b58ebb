#include "gateway/server/proxy_session.h"

#include <spdlog/spdlog.h>

#include <sstream>

#include "common/k8s_status.h"
#include "gateway/recording/exchange_recorder.h"
#include "gateway/server/request_rewrite.h"
#include "gateway/server/source_address.h"
#include "gateway/tunnel/request_frames.h"

namespace sluice::gateway {
namespace {
constexpr auto kLongRunningAfter = std::chrono::milliseconds(500);
constexpr auto kIdleFlushAfter = std::chrono::milliseconds(250);
// client-go retries a 503 that carries Retry-After (up to 10 times), so kubectl rides out an agent
// reconnecting; 2 s keeps that wait short without hammering the gateway.
constexpr const char* kRetryAfterSeconds = "2";

std::string chunk_encode(const std::string& data) {
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out;
  out.reserve(data.size() + 32);
  return out.append(size).append(data).append("\r\n");
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

// The chain's last stage: the request goes to the cluster through an Exchange of its tunnel.
class ProxySession::Upstream : public pipeline::Stage {
 public:
  explicit Upstream(std::weak_ptr<ProxySession> session) : session_(std::move(session)) {}
  const char* name() const override { return "upstream"; }
  pipeline::Next on_request(pipeline::RequestContext&, pipeline::Chain&) override {
    if (auto s = session_.lock()) s->start_exchange();
    return pipeline::Next::Stop;
  }
  void on_destroy(pipeline::RequestContext&) override {
    if (auto s = session_.lock()) s->abort_exchange("the client went away");
  }

 private:
  std::weak_ptr<ProxySession> session_;
};

ProxySession::ProxySession(net::ip::tcp::socket socket, net::ssl::context& tls, ProxyContext& ctx)
    : stream_(std::move(socket), tls.native_handle()), ctx_(ctx) {
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = ep.address().to_string();
}

void ProxySession::start() {
  stream_.expires_after(std::chrono::seconds(ctx_.config.limits.header_timeout_seconds));
  stream_.async_handshake(net::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
    if (ec) return;
    self->read_request();
  });
}

void ProxySession::read_request() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(ctx_.config.limits.max_header_bytes));
  parser_->body_limit(ctx_.config.limits.max_body_bytes);
  if (buffer_.size() > 0) return read_header();  // pipelined: the next request has begun
  // Between requests a connection may idle for idle_timeout; once a request's first byte is in,
  // its header must be complete within header_timeout (a slow sender of headers is cut off).
  stream_.expires_after(std::chrono::seconds(ctx_.config.limits.idle_timeout_seconds));
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    if (ec) return self->close();
    self->buffer_.commit(n);
    self->read_header();
  });
}

void ProxySession::read_header() {
  stream_.expires_after(std::chrono::seconds(ctx_.config.limits.header_timeout_seconds));
  http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_header(ec);
  });
}

void ProxySession::on_header(beast::error_code ec) {
  if (ec == http::error::header_limit) {
    keep_alive_ = false;
    return reply_status(431, "request headers are larger than the gateway accepts", "RequestHeaderFieldsTooLarge");
  }
  if (ec == http::error::body_limit) return on_request(ec);  // a Content-Length over the limit: known at once
  if (ec) return close();
  stream_.expires_after(std::chrono::seconds(ctx_.config.limits.header_timeout_seconds * 6));
  http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec2, std::size_t) {
    self->on_request(ec2);
  });
}

void ProxySession::reply(int code, const std::string& content_type, std::string body, const HeaderList& headers) {
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(code), 11);
  res->set(http::field::content_type, content_type);
  res->set(http::field::cache_control, "no-cache, private");
  for (const auto& [k, v] : headers) res->set(k, v);
  res->body() = std::move(body);
  const bool keep = keep_alive_;
  res->keep_alive(keep);
  res->prepare_payload();
  http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
    if (ec) return self->close();
    if (!keep) return self->linger_then_close();
    self->read_request();
  });
}

void ProxySession::reply_status(int code, const std::string& message, const std::string& reason) {
  reply(code, "application/json", common::make_status(code, message, reason).dump());
}

void ProxySession::on_request(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    return reply_status(413, "the request body is larger than the gateway accepts (" +
                                 std::to_string(ctx_.config.limits.max_body_bytes) + " bytes)", "RequestEntityTooLarge");
  }
  if (ec) return close();
  stream_.expires_never();
  auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  pipeline::RequestContext r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  for (const auto& f : req) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  r.body = std::move(req.body());
  r.remote = remote_;
  const auto forwarded_for = req["X-Forwarded-For"];
  r.source_ip = source_address(remote_, std::string_view(forwarded_for.data(), forwarded_for.size()), ctx_.trusted_proxies);
  r.tls = stream_.native_handle();
  r.upgrade = req.find(http::field::upgrade) != req.end();
  if (connection_id_.empty()) connection_id_ = audit::new_audit_id();
  r.connection_id = connection_id_;
  auto& metrics = ctx_.metrics;
  chain_ = std::make_shared<pipeline::Chain>(
      stream_.get_executor(), build_stages(ctx_, std::make_unique<Upstream>(weak_from_this())), shared_from_this(),
      [&metrics](const pipeline::RequestContext& c, int code, double seconds) {
        metrics.request_done(c.cluster, c.metrics_verb(), code, seconds);
      },
      std::move(r));
  chain_->start();
}

void ProxySession::local_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers) {
  reply(code, content_type, std::move(body), headers);
}

void ProxySession::watch_client_while_waiting() {
  keep_alive_ = false;  // the bytes the probe reads belong to nobody: no reuse after this
  if (!probing_) probe_waiting_client();
}

void ProxySession::stop_watching(std::function<void()> resume) {
  if (!probing_) return resume();
  resume_ = std::move(resume);  // once the probe's read is cancelled: one read at a time
  beast::error_code ec;
  stream_.socket().cancel(ec);
}

void ProxySession::probe_waiting_client() {
  // While reviewers decide, a read notices kubectl giving up (Ctrl-C, its own timeout): the
  // chain then cancels the wait (the approval) instead of waiting for nobody.
  probing_ = true;
  stream_.async_read_some(net::buffer(client_probe_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->probing_ = false;
    if (auto resume = std::move(self->resume_)) {
      self->resume_ = nullptr;
      return resume();
    }
    if (!ec) return self->probe_waiting_client();  // a pipelined request: dropped, the connection closes after
    self->client_gone_ = true;
    if (self->chain_) self->chain_->client_gone();
    self->close();
  });
}

recording::ExchangeRecorder* ProxySession::recorder() const {
  return chain_ && !chain_->completed() ? chain_->context().recorder : nullptr;
}

void ProxySession::count_out(const std::string& data) {
  ctx_.metrics.add_bytes_out(data.size());
  request().bytes_out += data.size();
  if (auto* rec = recorder()) rec->from_cluster(data);
}

void ProxySession::start_exchange() {
  auto& r = request();
  auto upstream_headers = rewrite_request_headers(r.headers, *r.identity, r.upgrade);
  masking::prepare_request(r.masking_plan, upstream_headers);
  tunnel::pb::GatewayFrame head;
  auto* h = head.mutable_request_head();
  h->set_method(r.method);
  h->set_target(r.cluster_target);
  auto add_header = [h](const std::string& k, const std::string& v) {
    auto* hh = h->add_headers();
    hh->set_name(k);
    hh->set_value(v);
  };
  for (const auto& [k, v] : upstream_headers)
    if (!beast::iequals(k, "Audit-ID")) add_header(k, v);
  add_header("Audit-ID", r.audit_id);  // the cluster's own audit log records the same id
  ctx_.metrics.add_bytes_in(r.body.size());
  r.bytes_in += r.body.size();
  tunnel::append_request_frames(std::move(head), std::move(r.body), frames_out_);
  status_ = 0;
  acquire_exchange();
}

void ProxySession::acquire_exchange() {
  const std::string cluster = request().cluster;
  wait_timer_.emplace(stream_.get_executor());
  wait_timer_->expires_after(std::chrono::seconds(ctx_.config.limits.exchange_wait_seconds));
  wait_ticket_ = ctx_.tunnels.acquire(cluster, on_strand([this](std::shared_ptr<tunnel::ExchangeChannel> ch) {
    on_exchange(std::move(ch));
  }));
  if (wait_ticket_ == 0) {
    frames_out_.clear();
    return chain_->send_local_reply(503, "cluster \"" + cluster + "\" has no connected agent; retry shortly",
                                    "ServiceUnavailable", {{"Retry-After", kRetryAfterSeconds}});
  }
  wait_timer_->async_wait([self = shared_from_this(), chain = chain_](beast::error_code ec) {
    if (ec || self->channel_ || self->wait_ticket_ == 0 || chain != self->chain_) return;
    const std::string& cluster = chain->context().cluster;
    self->ctx_.tunnels.cancel_wait(cluster, self->wait_ticket_);
    self->wait_ticket_ = 0;
    self->frames_out_.clear();
    chain->send_local_reply(503, "cluster \"" + cluster + "\" did not accept the request within " +
                                     std::to_string(self->ctx_.config.limits.exchange_wait_seconds) + "s; retry shortly",
                            "ServiceUnavailable", {{"Retry-After", kRetryAfterSeconds}});
  });
}

void ProxySession::on_exchange(std::shared_ptr<tunnel::ExchangeChannel> channel) {
  if (wait_ticket_ == 0 || channel_) {  // the wait timed out meanwhile: give it back unused
    channel->finish(false);
    return;
  }
  wait_ticket_ = 0;
  wait_timer_->cancel();
  channel_ = std::move(channel);
  ctx_.metrics.exchange_opened();
  head_sent_ = chunked_ = upgraded_ = close_after_ = false;
  ++exchange_gen_;
  write_next_frame();
  read_frame();
}

void ProxySession::send_frame(tunnel::pb::GatewayFrame frame) {
  frames_out_.push_back(std::move(frame));
  write_next_frame();
}

void ProxySession::write_next_frame() {
  if (frame_writing_ || frames_out_.empty() || !channel_) return;
  frame_writing_ = true;
  auto frame = std::move(frames_out_.front());
  frames_out_.pop_front();
  channel_->write(std::move(frame), on_strand([this, ch = channel_](bool ok) {
    frame_writing_ = false;
    if (ch != channel_) {
      // The response ended before gRPC confirmed the request's last frame: the call could only
      // go back to the idle pool now. Meanwhile the next exchange may have queued frames.
      if (pending_release_ == ch) {
        pending_release_.reset();
        if (ok) ch->release();
        else ch->finish(false);
      }
      return write_next_frame();
    }
    if (!ok) return abort_exchange("the tunnel failed while sending the request");
    if (upgraded_ && frames_out_.empty()) return relay_from_client();
    write_next_frame();
  }));
}

void ProxySession::read_frame() {
  if (!channel_) return;
  channel_->read(on_strand([this](std::optional<tunnel::pb::AgentFrame> f) { on_frame(std::move(f)); }));
}

void ProxySession::fail_before_head(int code, const std::string& message) {
  channel_->finish(false);
  channel_.reset();
  ctx_.metrics.exchange_closed();
  keep_alive_ = false;
  filter_.reset();
  chain_->send_local_reply(code, message, "InternalError");
}

void ProxySession::on_frame(std::optional<tunnel::pb::AgentFrame> frame) {
  if (!channel_) return;
  if (!frame || frame->has_reset()) {
    const std::string why = frame ? frame->reset().reason() : "the tunnel closed";
    if (head_sent_) return abort_exchange(why);
    return fail_before_head(502, "the agent of cluster \"" + request().cluster + "\" could not complete the request: " + why);
  }
  if (frame->has_response_head()) return on_response_head(*frame->mutable_response_head());
  if (frame->has_body() || frame->has_upgraded()) {
    std::string data = std::move(frame->has_body() ? *frame->mutable_body() : *frame->mutable_upgraded());
    if (filter_) {
      std::string masked;
      if (!filter_->feed(data, masked)) return abort_masking(filter_->error());
      data = std::move(masked);
      arm_idle_flush();
    }
    count_out(data);
    if (data.empty()) return read_frame();
    return write_to_client(chunked_ ? chunk_encode(data) : std::move(data), After::read_frame);
  }
  if (frame->has_end()) {
    std::string tail;
    if (filter_ && !filter_->finish(tail)) return abort_masking(filter_->error());
    count_out(tail);
    if (upgraded_) {
      if (tail.empty()) return abort_exchange("");
      return write_to_client(std::move(tail), After::abort);
    }
    if (!tail.empty() && chunked_) tail = chunk_encode(tail);
    if (chunked_) tail += "0\r\n\r\n";
    if (tail.empty()) return finish_exchange(true);
    return write_to_client(std::move(tail), After::finish);
  }
  read_frame();  // a frame kind this gateway does not know: skip it
}

void ProxySession::on_response_head(tunnel::pb::ResponseHead& rh) {
  status_ = static_cast<int>(rh.status());
  upgraded_ = status_ == 101;
  const bool bodiless =
      status_ == 204 || status_ == 304 || status_ < 200 || request().method == "HEAD";
  // The masking stage: a response that must be checked but cannot be read never reaches the client.
  filter_.reset();
  const auto& plan = request().masking_plan;
  if (plan.kind != masking::MaskingPlan::Kind::none && (!bodiless || upgraded_)) {
    std::string content_type, content_encoding, protocol, refusal;
    for (const auto& hh : rh.headers()) {
      if (beast::iequals(hh.name(), "Content-Type")) content_type = hh.value();
      if (beast::iequals(hh.name(), "Content-Encoding")) content_encoding = hh.value();
      if (beast::iequals(hh.name(), "Sec-WebSocket-Protocol")) protocol = hh.value();
    }
    filter_ = masking::ResponseFilter::start(plan, status_, content_type, content_encoding, protocol, refusal);
    if (!refusal.empty()) {
      spdlog::warn("502 {} {} on {}: {}", request().metrics_verb(), request().audit_id, request().cluster, refusal);
      return fail_before_head(502, refusal);
    }
  }
  std::string body = std::move(*rh.mutable_body());
  if (filter_) {
    std::string masked;
    bool ok = filter_->feed(body, masked);
    if (ok && rh.complete()) ok = filter_->finish(masked);
    if (!ok) {
      spdlog::warn("502 {} {} on {}: masking failed: {}", request().metrics_verb(), request().audit_id, request().cluster,
                   filter_->error());
      return fail_before_head(502, "the cluster's answer could not be checked for secrets (" + filter_->error() +
                                       "); it was not passed on");
    }
    body = std::move(masked);
  }
  request().response_started = true;
  if (auto* rec = recorder()) {
    auto headers = nlohmann::json::array();
    for (const auto& hh : rh.headers()) headers.push_back({hh.name(), hh.value()});
    rec->response_head(status_, std::move(headers));
  }
  http::response<http::empty_body> res{static_cast<http::status>(status_), 11};
  bool has_length = false;
  for (const auto& hh : rh.headers()) {
    const std::string n = lower(hh.name());
    if (n == "transfer-encoding" || n == "keep-alive" || n == "proxy-connection" || n == "trailer") continue;
    if ((n == "connection" || n == "upgrade") && !upgraded_) continue;
    if (n == "content-length") {
      if (filter_) continue;  // a masked body has a length of its own: it goes chunked
      has_length = true;
    }
    res.insert(hh.name(), hh.value());
  }
  if (!upgraded_) {
    chunked_ = !has_length && !bodiless;
    if (chunked_) res.chunked(true);
    res.keep_alive(keep_alive_);
  }
  std::ostringstream head;
  head << res.base();
  head_sent_ = true;
  if (upgraded_) {
    write_to_client(head.str(), After::read_frame);
    // Whatever the client sent after its request belongs to the upgraded stream.
    if (buffer_.size() > 0) {
      tunnel::pb::GatewayFrame f;
      f.set_upgraded(beast::buffers_to_string(buffer_.data()));
      buffer_.consume(buffer_.size());
      if (auto* rec = recorder()) rec->from_client(f.upgraded());
      send_frame(std::move(f));
    } else {
      relay_from_client();
    }
    return;
  }
  if (chunked_) {
    // A response still streaming after a moment is long-running (watch, logs -f): listen for
    // the client going away, so the cluster-side request is cancelled with it.
    long_running_timer_.emplace(stream_.get_executor());
    long_running_timer_->expires_after(kLongRunningAfter);
    long_running_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->channel_ && !self->upgraded_) self->watch_client();
    });
  }
  std::string out = head.str();
  count_out(body);
  if (!body.empty()) out += chunked_ ? chunk_encode(body) : body;
  if (!rh.complete()) {
    arm_idle_flush();
    return write_to_client(std::move(out), After::read_frame);
  }
  if (chunked_) out += "0\r\n\r\n";
  write_to_client(std::move(out), After::finish);
}

void ProxySession::abort_masking(const std::string& why) {
  spdlog::warn("{} {} on {}: the response was cut off, it could not be checked for secrets: {}",
               request().metrics_verb(), request().audit_id, request().cluster, why);
  abort_exchange("the response could not be checked for secrets: " + why);
}

void ProxySession::arm_idle_flush() {
  // Detectors hold back a tail that may begin a secret; when nothing follows for a moment (a shell
  // waiting for its echo, a log between lines) it is passed on, masked if it is long enough.
  if (!filter_ || !filter_->holding()) return;
  if (!idle_flush_timer_) idle_flush_timer_.emplace(stream_.get_executor());
  idle_flush_timer_->expires_after(kIdleFlushAfter);
  idle_flush_timer_->async_wait([self = shared_from_this(), gen = exchange_gen_](beast::error_code ec) {
    if (ec || gen != self->exchange_gen_ || !self->channel_ || !self->filter_ || !self->filter_->holding()) return;
    std::string out;
    self->filter_->idle_flush(out);
    if (out.empty()) return;
    self->count_out(out);
    self->write_to_client(self->chunked_ ? chunk_encode(out) : std::move(out), After::nothing);
  });
}

// Writes go out one at a time, in order: a frame's data, an idle flush and the last chunk may meet.
void ProxySession::write_to_client(std::string data, After after) {
  client_out_.push_back({std::move(data), after});
  if (!client_writing_) write_next_to_client();
}

void ProxySession::write_next_to_client() {
  if (client_out_.empty()) {
    client_writing_ = false;
    return;
  }
  client_writing_ = true;
  auto item = std::make_shared<PendingWrite>(std::move(client_out_.front()));
  client_out_.pop_front();
  net::async_write(stream_, net::buffer(item->data), [self = shared_from_this(), item](beast::error_code ec, std::size_t) {
    if (ec) {
      self->client_writing_ = false;
      self->client_out_.clear();
      return self->abort_exchange("the client went away");
    }
    switch (item->after) {
      case After::read_frame: self->read_frame(); break;
      case After::finish: self->finish_exchange(true); break;
      case After::abort: self->abort_exchange(""); break;
      case After::nothing: break;
    }
    self->write_next_to_client();
  });
}

void ProxySession::relay_from_client() {
  if (!channel_ || client_gone_ || relay_reading_) return;
  relay_reading_ = true;
  client_buf_.resize(16 * 1024);
  stream_.async_read_some(net::buffer(client_buf_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->relay_reading_ = false;
    if (!self->channel_) return;
    if (ec) {
      self->client_gone_ = true;
      return self->abort_exchange("the client closed the upgraded connection");
    }
    self->ctx_.metrics.add_bytes_in(n);
    self->request().bytes_in += n;
    if (auto* rec = self->recorder()) rec->from_client(std::string_view(self->client_buf_.data(), n));
    tunnel::pb::GatewayFrame f;
    f.set_upgraded(std::string(self->client_buf_.data(), n));
    self->send_frame(std::move(f));  // its completion reads the next piece: one in flight at a time
  });
}

void ProxySession::watch_client() {
  watching_client_ = true;
  close_after_ = true;  // this connection is not reused after a long-running response
  stream_.async_read_some(net::buffer(client_probe_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (!self->channel_) return;
    if (ec) {
      self->client_gone_ = true;
      return self->abort_exchange("the client went away");
    }
    self->watch_client();
  });
}

void ProxySession::finish_exchange(bool ok) {
  if (!channel_) return;
  if (ok && !upgraded_ && frames_out_.empty() && frame_writing_) pending_release_ = channel_;  // see write_next_frame
  else if (ok && !upgraded_ && frames_out_.empty()) channel_->release();
  else channel_->finish(ok);
  channel_.reset();
  ctx_.metrics.exchange_closed();
  chain_->complete(status_);
  if (long_running_timer_) long_running_timer_->cancel();
  if (idle_flush_timer_) idle_flush_timer_->cancel();
  filter_.reset();
  if (keep_alive_ && !close_after_ && !watching_client_) return read_request();
  close();
}

void ProxySession::abort_exchange(const std::string& why) {
  if (channel_) {
    if (!why.empty()) spdlog::debug("exchange to {} ended: {}", request().cluster, why);
    tunnel::pb::GatewayFrame reset;
    reset.mutable_reset()->set_reason(why.empty() ? "closed" : why);
    frames_out_.clear();
    auto ch = channel_;
    channel_.reset();
    ctx_.metrics.exchange_closed();
    chain_->complete(status_ ? status_ : 499);
    if (frame_writing_) ch->finish(false);
    else ch->write(std::move(reset), [ch](bool) { ch->finish(false); });
  }
  close();
}

void ProxySession::linger_then_close() {
  // The client may still be sending the request we refused (an oversized header or body): closing
  // with unread input makes TCP reset the connection, and the client would lose our answer. Read
  // and drop what comes for a short while, as nginx's lingering close does.
  if (!lingering_) {
    lingering_ = true;
    stream_.expires_after(std::chrono::seconds(2));
    client_buf_.resize(16 * 1024);
  }
  stream_.async_read_some(net::buffer(client_buf_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->close();
    self->linger_then_close();
  });
}

void ProxySession::close() {
  if (chain_) chain_->client_gone();  // a request still in flight ends with its connection
  if (long_running_timer_) long_running_timer_->cancel();
  if (idle_flush_timer_) idle_flush_timer_->cancel();
  if (wait_timer_) wait_timer_->cancel();
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

}  // namespace sluice::gateway
