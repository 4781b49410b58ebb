#include "gateway/tunnel/upstream_exchange.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>

#include <spdlog/spdlog.h>

#include <utility>

#include "gateway/pipeline/request_rewrite.h"
#include "gateway/pipeline/response_rewrite.h"
#include "gateway/tunnel/request_frames.h"

namespace sluice::gateway::tunnel {
namespace {
constexpr auto kIdleFlushAfter = std::chrono::milliseconds(250);
}  // namespace

template <class F>
auto UpstreamExchange::on_strand(F&& f) {
  return [this, chain = chain_->shared_from_this(), f = std::forward<F>(f)](auto&&... args) mutable {
    auto strand = chain->executor();
    boost::asio::post(strand, [this, chain = std::move(chain), f = std::move(f),
                               ... a = std::forward<decltype(args)>(args)]() mutable {
      try {
        f(std::move(a)...);
      } catch (const std::exception& e) {
        failed(e.what());
      }
    });
  };
}

void UpstreamExchange::failed(const char* what) {
  // An exception ends this exchange (500 when nothing was answered yet), never the process.
  spdlog::error("request {}: the upstream exchange failed: {}", chain_->context().audit_id, what);
  if (done_) return;
  if (!head_sent_ && channel_) return fail_before_head(500, "the gateway failed while relaying this request");
  if (!head_sent_ && !channel_) {
    if (wait_ticket_) tunnels_.cancel_wait(chain_->context().cluster, std::exchange(wait_ticket_, 0));
    end_channel();
    client_.reset();
    return chain_->send_local_reply(500, "the gateway failed while relaying this request", "InternalError");
  }
  abort("the gateway failed while relaying the response");
}

pipeline::Next UpstreamExchange::on_request(pipeline::RequestContext& r, pipeline::Chain& chain) {
  chain_ = &chain;
  client_ = chain.downstream_ptr();
  auto upstream_headers = rewrite_request_headers(r.headers, *r.identity, r.upgrade);
  masking::prepare_request(r.masking_plan, upstream_headers);
  pb::GatewayFrame head;
  auto* h = head.mutable_request_head();
  h->set_method(r.method);
  h->set_target(r.cluster_target);
  auto add_header = [h](const std::string& k, const std::string& v) {
    auto* hh = h->add_headers();
    hh->set_name(k);
    hh->set_value(v);
  };
  for (const auto& [k, v] : upstream_headers)
    if (!boost::beast::iequals(k, "Audit-ID")) add_header(k, v);
  add_header("Audit-ID", r.audit_id);  // the cluster's own audit log records the same id
  metrics_.add_bytes_in(r.body.size());
  r.bytes_in += r.body.size();
  append_request_frames(std::move(head), std::move(r.body), frames_out_);
  acquire();
  return pipeline::Next::Stop;
}

void UpstreamExchange::acquire() {
  const std::string cluster = chain_->context().cluster;
  wait_timer_.emplace(chain_->executor());
  wait_timer_->expires_after(wait_limit_);
  wait_ticket_ = tunnels_.acquire(cluster, on_strand([this](std::shared_ptr<ExchangeChannel> ch) {
    on_exchange(std::move(ch));
  }));
  if (wait_ticket_ == 0) {
    done_ = true;
    client_.reset();
    return chain_->send_local_reply(503, "cluster \"" + cluster + "\" has no connected agent; retry shortly",
                                    "ServiceUnavailable", {{"Retry-After", pipeline::kRetryAfterSeconds}});
  }
  wait_timer_->async_wait(on_strand([this](boost::system::error_code ec) {
    if (ec || done_ || channel_ || wait_ticket_ == 0) return;
    const std::string cluster = chain_->context().cluster;
    tunnels_.cancel_wait(cluster, wait_ticket_);
    wait_ticket_ = 0;
    done_ = true;
    client_.reset();
    chain_->send_local_reply(503, "cluster \"" + cluster + "\" did not accept the request within " +
                                      std::to_string(wait_limit_.count()) + "s; retry shortly",
                             "ServiceUnavailable", {{"Retry-After", pipeline::kRetryAfterSeconds}});
  }));
}

void UpstreamExchange::on_exchange(std::shared_ptr<ExchangeChannel> channel) {
  if (done_ || wait_ticket_ == 0 || channel_) {  // the wait ended meanwhile: give it back unused
    channel->finish(false);
    return;
  }
  wait_ticket_ = 0;
  wait_timer_->cancel();
  channel_ = std::move(channel);
  metrics_.exchange_opened();
  write_next_frame();
  read_frame();
}

void UpstreamExchange::send_frame(pb::GatewayFrame frame) {
  frames_out_.push_back(std::move(frame));
  write_next_frame();
}

void UpstreamExchange::write_next_frame() {
  if (frame_writing_ || frames_out_.empty() || !channel_) return;
  frame_writing_ = true;
  auto frame = std::move(frames_out_.front());
  frames_out_.pop_front();
  channel_->write(std::move(frame), on_strand([this, ch = channel_](bool ok) {
    frame_writing_ = false;
    if (release_after_write_) {
      // The response ended before gRPC confirmed the request's last frame: only now may the
      // call go back to the idle pool.
      release_after_write_ = false;
      if (ok) ch->release();
      else ch->finish(false);
      return;
    }
    if (done_) return;
    if (!ok) return abort("the tunnel failed while sending the request");
    if (upgraded_ && frames_out_.empty()) return relay_from_client();
    write_next_frame();
  }));
}

void UpstreamExchange::read_frame() {
  if (done_ || !channel_) return;
  channel_->read(on_strand([this](std::optional<pb::AgentFrame> f) {
    if (!done_) on_frame(std::move(f));
  }));
}

void UpstreamExchange::on_frame(std::optional<pb::AgentFrame> frame) {
  if (!frame || frame->has_reset()) {
    const std::string why = frame ? frame->reset().reason() : "the tunnel closed";
    if (head_sent_) return abort(why);
    return fail_before_head(502, "the agent of cluster \"" + chain_->context().cluster +
                                     "\" could not complete the request: " + why);
  }
  if (frame->has_response_head()) return on_response_head(*frame->mutable_response_head());
  if (frame->has_body() || frame->has_upgraded()) {
    std::string data = std::move(frame->has_body() ? *frame->mutable_body() : *frame->mutable_upgraded());
    if (auto passed = chain_->response_data(data, false); !passed) return cut_off(passed.error().message);
    arm_idle_flush();
    count_out(data);
    if (data.empty()) return read_frame();
    return send(std::move(data), false, false);
  }
  if (frame->has_end()) {
    std::string tail;
    if (auto passed = chain_->response_data(tail, true); !passed) return cut_off(passed.error().message);
    count_out(tail);
    if (upgraded_) {
      if (tail.empty()) return abort("");
      return send(std::move(tail), true, true);
    }
    return send(std::move(tail), true, false);
  }
  read_frame();  // a frame kind this gateway does not know: skip it
}

void UpstreamExchange::on_response_head(pb::ResponseHead& rh) {
  auto& r = chain_->context();
  status_ = static_cast<int>(rh.status());
  upgraded_ = status_ == 101;
  HeaderList headers;
  for (const auto& hh : rh.headers()) headers.emplace_back(hh.name(), hh.value());
  pipeline::ResponseStart start{status_, headers, is_bodiless(status_, r.method == "HEAD"), upgraded_};
  // The way back (response masking, recording): what they refuse never reaches the client.
  std::string body = std::move(*rh.mutable_body());
  auto passed = chain_->response_head(start);
  if (passed) passed = chain_->response_data(body, rh.complete() && !upgraded_);
  if (!passed) {
    spdlog::warn("502 {} {} on {}: {}", r.metrics_verb(), r.audit_id, r.cluster, passed.error().message);
    return fail_before_head(502, passed.error().message + "; it was not passed on");
  }
  r.response_started = true;
  head_sent_ = true;
  count_out(body);
  auto head = rewrite_response_head(status_, headers, start.body_rewritten, r.method == "HEAD");
  if (upgraded_) {
    if (boost::beast::iequals(first_header(headers, "Upgrade"), "websocket"))
      close_finder_ = std::make_unique<common::WebSocketCloseFinder>();
    if (close_finder_ && !body.empty()) {  // frames that came with the head: they go like the rest
      client_->send_head(std::move(head), "", false, nullptr);
      send(std::move(body), false, false);
      return relay_from_client();
    }
    client_->send_head(std::move(head), std::move(body), false, written([this] { read_frame(); }));
    return relay_from_client();  // at once: the client may speak first (a shell's input)
  }
  if (!rh.complete()) {
    arm_idle_flush();
    return client_->send_head(std::move(head), std::move(body), false, written([this] { read_frame(); }));
  }
  client_->send_head(std::move(head), std::move(body), true, written([this] { finish(); }));
}

void UpstreamExchange::send(std::string data, bool end, bool abort_after) {
  if (close_finder_) {
    // What comes before a close frame is a write of its own, so the close is a TLS record of its own.
    std::size_t from = 0;
    for (const auto at : close_finder_->close_frames(data)) {
      if (at == from) continue;
      client_->send_data(data.substr(from, at - from), false, nullptr);
      from = at;
    }
    if (from > 0) data.erase(0, from);
  }
  if (!end) return client_->send_data(std::move(data), false, written([this] { read_frame(); }));
  if (abort_after) return client_->send_data(std::move(data), true, written([this] { abort(""); }));
  client_->send_data(std::move(data), true, written([this] { finish(); }));
}

void UpstreamExchange::relay_from_client() {
  if (done_) return;
  client_->read_upgraded([this, keep = chain_->shared_from_this()](std::optional<std::string> data) {
    if (done_) return;
    if (!data) return abort("the client closed the upgraded connection");
    auto& r = chain_->context();
    metrics_.add_bytes_in(data->size());
    r.bytes_in += data->size();
    chain_->request_data(*data);
    pb::GatewayFrame f;
    f.set_upgraded(std::move(*data));
    send_frame(std::move(f));  // its completion reads the next piece: one in flight at a time
  });
}

void UpstreamExchange::count_out(const std::string& data) {
  auto& r = chain_->context();
  metrics_.add_bytes_out(data.size());
  r.bytes_out += data.size();
}

void UpstreamExchange::arm_idle_flush() {
  // Detectors hold back a tail that may begin a secret; when nothing follows for a moment (a shell
  // waiting for its echo, a log between lines) it is passed on, masked if it is long enough.
  if (!chain_->response_holding()) return;
  if (!idle_flush_timer_) idle_flush_timer_.emplace(chain_->executor());
  idle_flush_timer_->expires_after(kIdleFlushAfter);
  idle_flush_timer_->async_wait(on_strand([this](boost::system::error_code ec) {
    if (ec || done_ || !chain_->response_holding()) return;
    std::string out;
    chain_->response_idle(out);
    if (out.empty()) return;
    count_out(out);
    client_->send_data(std::move(out), false, nullptr);
  }));
}

void UpstreamExchange::fail_before_head(int code, const std::string& message) {
  end_channel();
  channel_->finish(false);
  channel_.reset();
  client_.reset();
  // the connection is not reused: the cluster's side of it ended in an unknown state
  chain_->send_local_reply(code, message, "InternalError", {{"Connection", "close"}});
}

void UpstreamExchange::cut_off(const std::string& why) {
  const auto& r = chain_->context();
  spdlog::warn("{} {} on {}: the response was cut off: {}", r.metrics_verb(), r.audit_id, r.cluster, why);
  abort(why);
}

void UpstreamExchange::end_channel() {
  done_ = true;
  if (idle_flush_timer_) idle_flush_timer_->cancel();
  if (wait_timer_) wait_timer_->cancel();
  if (channel_) metrics_.exchange_closed();
}

void UpstreamExchange::finish() {
  if (done_) return;
  end_channel();
  if (!upgraded_ && frames_out_.empty() && frame_writing_) release_after_write_ = true;  // see write_next_frame
  else if (!upgraded_ && frames_out_.empty()) channel_->release();
  else channel_->finish(true);
  channel_.reset();
  auto client = std::move(client_);
  chain_->complete(status_);
  client->finish_response(true);
}

void UpstreamExchange::abort(const std::string& why) {
  if (done_) return;
  if (wait_ticket_) {  // still waiting for a free exchange
    tunnels_.cancel_wait(chain_->context().cluster, wait_ticket_);
    wait_ticket_ = 0;
  }
  auto ch = channel_;
  end_channel();
  channel_.reset();
  frames_out_.clear();
  if (ch) {
    if (!why.empty()) spdlog::debug("exchange to {} ended: {}", chain_->context().cluster, why);
    if (frame_writing_) {
      ch->finish(false);
    } else {
      pb::GatewayFrame reset;
      reset.mutable_reset()->set_reason(why.empty() ? "closed" : why);
      ch->write(std::move(reset), [ch](bool) { ch->finish(false); });
    }
  }
  auto client = std::move(client_);
  chain_->complete(status_ ? status_ : 499);
  if (client) client->finish_response(false);
}

}  // namespace sluice::gateway::tunnel
