#include "gateway/tunnel/tunnel_fetch.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

#include "common/fifo.h"
#include "gateway/tunnel/exchange_channel.h"
#include "gateway/tunnel/request_frames.h"

namespace sluice::gateway::tunnel {
namespace {

namespace net = boost::asio;

// Owns one fetch; every callback is posted to the caller's executor, so its state needs no lock.
class Fetch : public std::enable_shared_from_this<Fetch> {
 public:
  Fetch(net::any_io_executor ex, TunnelRegistry& tunnels, FetchRequest req, std::function<void(FetchResult)> done)
      : ex_(std::move(ex)), tunnels_(tunnels), req_(std::move(req)), done_(std::move(done)), timer_(ex_) {}

  // Wraps a handler so it runs on the caller's executor, keeping this fetch alive.
  template <class F>
  auto post(F&& f) {
    return [self = shared_from_this(), f = std::forward<F>(f)](auto... args) mutable {
      net::post(self->ex_, [self, f = std::move(f), args...]() mutable { f(std::move(args)...); });
    };
  }

  void start(const common::Cancel& cancel) {
    if (cancel)
      cancel->on_cancel([weak = weak_from_this(), ex = ex_] {
        net::post(ex, [weak] {
          if (auto self = weak.lock()) self->fail("cancelled");
        });
      });
    timer_.expires_after(req_.timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->fail("the cluster did not answer within " + std::to_string(self->req_.timeout.count()) + " ms");
    });
    ticket_ = tunnels_.acquire(req_.cluster, post([this](std::shared_ptr<ExchangeChannel> ch) { on_channel(ch); }));
    if (ticket_ == 0) fail("cluster \"" + req_.cluster + "\" has no connected agent");
  }

 private:
  void on_channel(std::shared_ptr<ExchangeChannel> ch) {
    ticket_ = 0;
    if (finished_) return ch->finish(false);  // timed out meanwhile
    channel_ = std::move(ch);
    pb::GatewayFrame head;
    auto* h = head.mutable_request_head();
    h->set_method(req_.method);
    h->set_target(req_.target);
    for (const auto& [k, v] : req_.headers) {
      auto* hh = h->add_headers();
      hh->set_name(k);
      hh->set_value(v);
    }
    append_request_frames(std::move(head), std::move(req_.body), out_);
    write_next();
    read();
  }

  // One frame in flight at a time, as ExchangeChannel requires.
  void write_next() {
    if (out_.empty() || !channel_) return;
    writing_ = true;
    auto frame = std::move(out_.front());
    out_.pop_front();
    channel_->write(std::move(frame), post([this](bool ok) {
      writing_ = false;
      if (abandoned_ || (!ok && finished_)) {  // answered already, but the call is not reusable
        if (channel_) channel_->finish(false);
        channel_.reset();
        return;
      }
      if (!ok) return fail("the tunnel failed while sending the request");
      if (!out_.empty()) return write_next();
      if (response_done_) release();
    }));
  }

  void read() {
    channel_->read(post([this](std::optional<pb::AgentFrame> f) { on_frame(std::move(f)); }));
  }

  bool append(const std::string& bytes) {
    if (result_.body.size() + bytes.size() > req_.max_bytes) {
      fail("the response is larger than " + std::to_string(req_.max_bytes) + " bytes");
      return false;
    }
    result_.body += bytes;
    return true;
  }

  void on_frame(std::optional<pb::AgentFrame> f) {
    if (finished_) return;
    if (!f || f->has_reset()) return fail(f ? "the agent reset the request: " + f->reset().reason() : "the tunnel closed");
    if (f->has_response_head()) {
      result_.status = static_cast<int>(f->response_head().status());
      if (!append(f->response_head().body())) return;
      if (f->response_head().complete()) return succeed();
      return read();
    }
    if (f->has_body()) {
      if (!append(f->body())) return;
      return read();
    }
    if (f->has_end()) return succeed();
    return fail("unexpected frame from the agent");
  }

  void succeed() {
    response_done_ = true;
    if (!out_.empty()) {  // answered before it had the whole request: not reusable
      out_.clear();
      abandoned_ = true;
      if (!writing_ && channel_) channel_->finish(false);
      if (!writing_) channel_.reset();
    } else if (!writing_) {
      release();
    }
    finish(std::move(result_));
  }

  // The call goes back to the idle pool once the agent has the whole request and answered it.
  void release() {
    if (channel_) channel_->release();
    channel_.reset();
  }

  void fail(const std::string& why) {
    if (finished_) return;
    if (ticket_ != 0) tunnels_.cancel_wait(req_.cluster, ticket_);
    ticket_ = 0;
    if (channel_) channel_->finish(false);
    channel_.reset();
    FetchResult r;
    r.error = why;
    finish(std::move(r));
  }

  void finish(FetchResult r) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    auto done = std::move(done_);
    done(std::move(r));
  }

  net::any_io_executor ex_;
  TunnelRegistry& tunnels_;
  FetchRequest req_;
  std::function<void(FetchResult)> done_;
  net::steady_timer timer_;
  std::uint64_t ticket_ = 0;
  std::shared_ptr<ExchangeChannel> channel_;
  FetchResult result_;
  common::Fifo<pb::GatewayFrame> out_;
  bool writing_ = false, response_done_ = false, finished_ = false, abandoned_ = false;
};

}  // namespace

void fetch_through_tunnel(net::any_io_executor executor, TunnelRegistry& tunnels, FetchRequest request,
                          std::function<void(FetchResult)> done, common::Cancel cancel) {
  std::make_shared<Fetch>(std::move(executor), tunnels, std::move(request), std::move(done))->start(cancel);
}

}  // namespace sluice::gateway::tunnel
