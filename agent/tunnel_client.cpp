#include "agent/tunnel_client.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "agent/frame_window.h"
#include "common/tls_certs.h"
#include "common/tunnel_protocol.h"

namespace sluice::agent {
// One Control call: hello, heartbeats, and the gateway's instructions.
class ControlCall : public grpc::ClientBidiReactor<pb::AgentMessage, pb::GatewayMessage> {
 public:
  ControlCall(TunnelClient& client, const std::string& token) : client_(client) {
    client.call_started(this, [this] { ctx_.TryCancel(); });
    ctx_.AddMetadata("authorization", "Bearer " + token);
    ctx_.AddMetadata("x-sluice-cluster", client.options_.cluster);
    client.stub_->async()->Control(&ctx_, this);
    pb::AgentMessage hello;
    hello.mutable_hello()->set_cluster(client.options_.cluster);
    hello.mutable_hello()->set_agent_version(client.options_.agent_version);
    hello.mutable_hello()->set_agent_id(client.options_.agent_id);
    hello.mutable_hello()->set_protocol(common::kTunnelProtocol);
    send(std::move(hello));
    StartRead(&in_);
    AddHold();
    StartCall();
  }

  void send(pb::AgentMessage m) {
    std::lock_guard lock(mu_);
    if (closed_) return;
    out_.push_back(std::move(m));
    if (out_.size() == 1) StartWrite(&out_.front());
  }

  void OnReadDone(bool ok) override {
    if (!ok) return close();
    if (in_.has_welcome()) client_.on_welcome(in_.welcome().tunnel_id(), in_.welcome().idle_exchanges());
    else if (in_.has_open_exchanges()) client_.open_exchanges(in_.open_exchanges().count());
    else if (in_.has_drain()) spdlog::info("the gateway asks to drain: {}", in_.drain().reason());
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    out_.pop_front();
    if (ok && !closed_ && !out_.empty()) StartWrite(&out_.front());
  }

  void OnDone(const grpc::Status& status) override {
    client_.on_control_done(status);
    auto& client = client_;
    client.call_ending(this);
    delete this;
    client.call_ended();
  }

 private:
  void close() {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    RemoveHold();
  }

  TunnelClient& client_;
  grpc::ClientContext ctx_;
  pb::GatewayMessage in_;
  std::mutex mu_;
  std::deque<pb::AgentMessage> out_;
  bool closed_ = false;
};

// Writes toward the gateway from the API-server side; outlives the call it writes to. Its
// FrameWindow paces the writer (agent/frame_window.h).
struct ExchangeWriter {
  std::mutex mu;
  grpc::ClientBidiReactor<pb::AgentFrame, pb::GatewayFrame>* call = nullptr;
  FrameWindow window;
  bool closed = false;
  bool busy = false;                // carrying an exchange (else idle, ready for a request head)
  std::function<void()> released;   // the exchange's last frame is queued: the call is idle again
};

// One Exchange call: idle until the gateway sends a request head, then one proxied exchange.
class ExchangeCall : public grpc::ClientBidiReactor<pb::AgentFrame, pb::GatewayFrame> {
 public:
  ExchangeCall(TunnelClient& client, const std::string& token, const std::string& tunnel_id)
      : client_(client), writer_(std::make_shared<ExchangeWriter>()) {
    client.call_started(this, [this] { ctx_.TryCancel(); });
    writer_->call = this;
    writer_->released = [&client] { client.on_exchange_released(); };
    ctx_.AddMetadata("authorization", "Bearer " + token);
    ctx_.AddMetadata("x-sluice-cluster", client.options_.cluster);
    client.stub_->async()->Exchange(&ctx_, this);
    pb::AgentFrame ready;
    ready.mutable_ready()->set_tunnel_id(tunnel_id);
    write(writer_, std::move(ready), [](bool) {});
    StartRead(&in_);
    AddHold();
    StartCall();
  }

  static void write(const std::shared_ptr<ExchangeWriter>& w, pb::AgentFrame frame, std::function<void(bool)> accepted) {
    std::unique_lock lock(w->mu);
    if (w->closed || !w->call) {
      lock.unlock();
      accepted(false);
      return;
    }
    // The gateway sends the next request only after this frame, and the next exchange's frames
    // queue behind it, so the call is free for reuse from here.
    const bool last = frame.has_end() || (frame.has_response_head() && frame.response_head().complete());
    std::function<void()> released;
    if (last && w->busy) {
      w->busy = false;
      released = w->released;
    }
    auto pushed = w->window.push(std::move(frame), std::move(accepted));
    if (pushed.start_write) w->call->StartWrite(&w->window.front());
    lock.unlock();
    if (released) released();
    if (pushed.go_on) pushed.go_on(true);
  }

  void OnWriteDone(bool ok) override {
    std::function<void(bool)> accepted;
    {
      std::lock_guard lock(writer_->mu);
      accepted = writer_->window.pop();
      if (!ok) writer_->closed = true;
      if (ok && !writer_->window.empty()) StartWrite(&writer_->window.front());
    }
    if (accepted) accepted(ok);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      if (exchange_) exchange_->cancel();
      return release();
    }
    if (in_.has_request_head()) {
      {
        std::lock_guard lock(writer_->mu);
        if (writer_->busy) {  // a second request before the first ended: the gateway is confused
          spdlog::error("the gateway sent a request on a busy exchange call; closing it");
          ctx_.TryCancel();
          return;
        }
        writer_->busy = true;
      }
      client_.on_exchange_taken();
      std::weak_ptr<ExchangeWriter> weak = writer_;
      exchange_ = std::make_shared<ApiServerExchange>(
          client_.pool_, in_.request_head(), [weak](pb::AgentFrame frame, std::function<void(bool)> accepted) {
            if (auto w = weak.lock()) ExchangeCall::write(w, std::move(frame), std::move(accepted));
            else accepted(false);
          });
      if (!in_.request_head().body().empty()) exchange_->add_body(std::move(*in_.mutable_request_head()->mutable_body()));
      if (in_.request_head().complete()) exchange_->end_of_body();
    } else if (in_.has_body() && exchange_) {
      exchange_->add_body(std::move(*in_.mutable_body()));
    } else if (in_.has_end_of_body() && exchange_) {
      exchange_->end_of_body();
    } else if (in_.has_upgraded() && exchange_) {
      // The next read waits until the API server took these bytes: flow control for exec stdin.
      exchange_->upgraded_from_client(std::move(*in_.mutable_upgraded()), [this] { StartRead(&in_); });
      return;
    } else if (in_.has_reset() && exchange_) {
      exchange_->cancel();
    }
    StartRead(&in_);
  }

  void OnDone(const grpc::Status&) override {
    std::deque<FrameWindow::Accepted> unsent;
    {
      std::lock_guard lock(writer_->mu);
      writer_->call = nullptr;
      writer_->closed = true;
      unsent = writer_->window.close();
    }
    for (auto& accepted : unsent) accepted(false);
    bool busy;
    {
      std::lock_guard lock(writer_->mu);
      busy = writer_->busy;
    }
    if (exchange_) exchange_->cancel();
    client_.on_exchange_done(busy);
    auto& client = client_;
    client.call_ending(this);
    delete this;
    client.call_ended();
  }

 private:
  void release() {
    std::lock_guard lock(writer_->mu);
    if (released_) return;
    released_ = true;
    writer_->closed = true;
    RemoveHold();
  }

  TunnelClient& client_;
  grpc::ClientContext ctx_;
  pb::GatewayFrame in_;
  std::shared_ptr<ExchangeWriter> writer_;
  std::shared_ptr<ApiServerExchange> exchange_;
  bool released_ = false;
};

TunnelClient::TunnelClient(net::io_context& io, ConnectionPool& pool, TunnelOptions options)
    : io_(io), pool_(pool), options_(std::move(options)), agent_token_(options_.token_file), reconnect_timer_(io),
      heartbeat_timer_(io), drain_timer_(io) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options_.gateway_ca_pem;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, options_.max_backoff_seconds * 1000);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);  // as the gateway: see serve_command.cpp
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
  channel_ = grpc::CreateCustomChannel(options_.gateway, grpc::SslCredentials(ssl), args);
  stub_ = pb::Tunnel::NewStub(channel_);
}

TunnelClient::~TunnelClient() {
  {
    std::lock_guard lock(mu_);
    stopped_ = draining_ = true;  // nothing new opens from here
  }
  std::unique_lock calls(calls_mu_);
  for (auto& [call, cancel] : open_calls_) cancel();
  while (!calls_ended_.wait_for(calls, std::chrono::seconds(5), [this] { return live_calls_ == 0; }))
    spdlog::warn("waiting for {} tunnel calls to end", live_calls_);
}

void TunnelClient::call_started(const void* call, std::function<void()> cancel) {
  std::lock_guard lock(calls_mu_);
  ++live_calls_;
  open_calls_[call] = std::move(cancel);
}

void TunnelClient::call_ending(const void* call) {
  std::lock_guard lock(calls_mu_);
  open_calls_.erase(call);
}

void TunnelClient::call_ended() {
  std::lock_guard lock(calls_mu_);
  --live_calls_;
  calls_ended_.notify_all();
}

unsigned TunnelClient::live_calls() const {
  std::lock_guard lock(calls_mu_);
  return live_calls_;
}

std::string TunnelClient::token() const {
  try {
    return agent_token_.get();
  } catch (const std::exception& e) {
    spdlog::error("cannot read the agent token: {}", e.what());
    return "";
  }
}

void TunnelClient::start() { net::post(io_, [this] { connect(); }); }

void TunnelClient::connect() {
  std::lock_guard lock(mu_);
  if (draining_ || stopped_ || control_) return;
  control_ = new ControlCall(*this, token());
}

void TunnelClient::on_welcome(const std::string& tunnel_id, unsigned idle_target) {
  {
    std::lock_guard lock(mu_);
    tunnel_id_ = tunnel_id;
    idle_target_ = idle_target == 0 ? 4 : idle_target;
    attempt_ = 0;
  }
  spdlog::info("tunnel {} open to {} for cluster {}", tunnel_id, options_.gateway, options_.cluster);
  open_exchanges(idle_target);
  net::post(io_, [this] { heartbeat(); });
}

void TunnelClient::open_exchanges(unsigned n) {
  std::lock_guard lock(mu_);
  if (draining_ || tunnel_id_.empty()) return;
  const std::string t = token();
  for (unsigned i = 0; i < n; ++i) {
    ++idle_;
    new ExchangeCall(*this, t, tunnel_id_);
  }
}

void TunnelClient::on_exchange_taken() {
  bool replace;
  {
    std::lock_guard lock(mu_);
    --idle_;
    ++active_;
    replace = !draining_ && idle_ < idle_target_;
  }
  if (replace) open_exchanges(1);
}

void TunnelClient::on_exchange_released() {
  {
    std::lock_guard lock(mu_);
    --active_;
    ++idle_;
  }
  net::post(io_, [this] { check_drained(); });
}

void TunnelClient::on_exchange_done(bool taken) {
  {
    std::lock_guard lock(mu_);
    if (taken) --active_;
    else --idle_;
  }
  net::post(io_, [this] { check_drained(); });
}

void TunnelClient::on_control_done(const grpc::Status& status) {
  {
    std::lock_guard lock(mu_);
    control_ = nullptr;
    tunnel_id_.clear();
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED)
    spdlog::error("the gateway refused this agent: {} (check --cluster and --token-file)", status.error_message());
  else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
    spdlog::error("the gateway refused this agent: {}", status.error_message());
  else
    spdlog::warn("tunnel closed: {}", status.ok() ? "by the gateway" : status.error_message());
  net::post(io_, [this] {
    heartbeat_timer_.cancel();
    schedule_reconnect();
  });
}

void TunnelClient::schedule_reconnect() {
  int attempt;
  {
    std::lock_guard lock(mu_);
    if (draining_ || stopped_) return check_drained();
    attempt = attempt_++;
  }
  // Exponential backoff with full jitter: many agents restarting together do not stampede.
  const double cap = std::min<double>(options_.max_backoff_seconds, 0.25 * (1 << std::min(attempt, 10)));
  const double delay = std::uniform_real_distribution<double>(cap / 2, cap)(rng_);
  spdlog::info("reconnecting in {:.2f}s", delay);
  reconnect_timer_.expires_after(std::chrono::milliseconds(static_cast<long>(delay * 1000)));
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) connect();
  });
}

void TunnelClient::heartbeat() {
  {
    std::lock_guard lock(mu_);
    if (!control_ || tunnel_id_.empty()) return;
    pb::AgentMessage m;
    auto* hb = m.mutable_heartbeat();
    hb->set_unix_millis(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count());
    hb->set_idle_exchanges(idle_);
    hb->set_active_exchanges(active_);
    control_->send(std::move(m));
  }
  heartbeat_timer_.expires_after(std::chrono::seconds(10));
  heartbeat_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) heartbeat();
  });
}

void TunnelClient::drain(std::chrono::seconds grace, std::function<void()> done) {
  unsigned active;
  {
    std::lock_guard lock(mu_);
    active = active_;
    draining_ = true;
    drained_ = std::move(done);
    if (control_) {
      pb::AgentMessage m;
      m.mutable_draining();
      control_->send(std::move(m));
    }
  }
  spdlog::info("draining: no new exchanges; waiting up to {}s for {} in flight", grace.count(), active);
  reconnect_timer_.cancel();
  drain_timer_.expires_after(grace);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    std::function<void()> done;
    {
      std::lock_guard lock(mu_);
      spdlog::warn("grace period over with {} exchanges in flight", active_);
      stopped_ = true;
      done = std::move(drained_);
    }
    if (done) done();
  });
  check_drained();
}

void TunnelClient::check_drained() {
  std::function<void()> done;
  {
    std::lock_guard lock(mu_);
    if (!draining_ || active_ > 0 || !drained_) return;
    stopped_ = true;
    done = std::move(drained_);
  }
  drain_timer_.cancel();
  done();
}

}  // namespace sluice::agent
