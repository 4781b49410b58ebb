#include "gateway/tunnel/exchange_channel.h"

#include <spdlog/spdlog.h>

#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway::tunnel {

class ExchangeReactor : public AdmittedReactor<pb::AgentFrame, pb::GatewayFrame> {
 public:
  explicit ExchangeReactor(TunnelRegistry& registry) : registry_(registry), channel_(std::make_shared<ExchangeChannel>()) {
    std::lock_guard lock(channel_->mu_);
    channel_->reactor_ = this;
    channel_->registry_ = &registry_;
  }

  void admit(std::string cluster) override {
    cluster_ = std::move(cluster);
    std::lock_guard lock(channel_->mu_);
    channel_->read_pending_ = true;
    StartRead(&channel_->in_);  // the agent's ExchangeReady
  }

  void refuse(grpc::Status why) override {
    std::lock_guard lock(channel_->mu_);
    channel_->finished_ = channel_->broken_ = true;
    Finish(std::move(why));
  }

  // A reaction that throws is a bug: it ends this exchange (its session answers or resets), never
  // the gateway.
  void OnReadDone(bool ok) override {
    try {
      read_done(ok);
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

  void OnWriteDone(bool ok) override {
    try {
      write_done(ok);
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

 private:
  void fail(const char* what) {
    spdlog::error("an exchange call's handler failed and the exchange was ended (a bug: please report it): {}", what);
    {
      std::lock_guard lock(channel_->mu_);
      channel_->broken_ = true;
      if (!channel_->finished_) {
        channel_->finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::INTERNAL, "the gateway failed on this exchange"));
      }
    }
    registry_.remove_idle(channel_);
  }

  void read_done(bool ok) {
    ExchangeChannel::ReadHandler handler;
    std::optional<pb::AgentFrame> frame;
    bool register_idle = false, drop_idle = false;
    {
      std::lock_guard lock(channel_->mu_);
      channel_->read_pending_ = false;
      if (!ok) {
        channel_->broken_ = true;
        drop_idle = !channel_->taken_;
        if (!channel_->finished_) {
          channel_->finished_ = true;
          Finish(grpc::Status::OK);
        }
        handler = std::move(channel_->on_read_);
      } else if (!ready_) {
        ready_ = true;
        if (!channel_->in_.has_ready() || registry_.cluster_of(channel_->in_.ready().tunnel_id()) != cluster_) {
          channel_->finished_ = true;
          Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first frame must name a tunnel of this cluster"));
          return;
        }
        channel_->tunnel_id_ = channel_->in_.ready().tunnel_id();
        register_idle = true;
        // Keep a read outstanding while idle, so an agent that goes away is noticed at once.
        channel_->read_pending_ = true;
        StartRead(&channel_->in_);
      } else if (!channel_->taken_) {
        // Nothing may arrive on an idle call: a frame here would be mistaken for the next
        // exchange's response.
        channel_->broken_ = drop_idle = true;
        if (!channel_->finished_) {
          channel_->finished_ = true;
          Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "a frame arrived on an idle exchange"));
        }
      } else if (channel_->on_read_) {
        handler = std::move(channel_->on_read_);
        frame = std::move(channel_->in_);
        channel_->start_read_locked();
      } else {
        channel_->ahead_bytes_ += channel_->in_.ByteSizeLong();
        channel_->ahead_.push_back(std::move(channel_->in_));
        if (channel_->ahead_bytes_ < ExchangeChannel::kReadAheadBytes) channel_->start_read_locked();
      }
    }
    if (register_idle) registry_.add_idle(channel_->tunnel_id_, channel_, true);
    if (drop_idle) registry_.remove_idle(channel_);
    if (handler) handler(std::move(frame));
  }

  void write_done(bool ok) {
    ExchangeChannel::WriteHandler handler;
    {
      std::lock_guard lock(channel_->mu_);
      handler = std::move(channel_->on_write_);
    }
    if (handler) handler(ok);
  }

 public:
  void OnCancel() override {
    // The agent's side went away; pending reads and writes complete with ok=false.
  }

  void OnDone() override {
    {
      std::lock_guard lock(channel_->mu_);
      channel_->reactor_ = nullptr;
      channel_->broken_ = true;
    }
    registry_.remove_idle(channel_);
    delete this;
  }

 private:
  TunnelRegistry& registry_;
  std::string cluster_;
  std::shared_ptr<ExchangeChannel> channel_;
  bool ready_ = false;
};

void ExchangeChannel::write(pb::GatewayFrame frame, WriteHandler done) {
  std::unique_lock lock(mu_);
  taken_ = true;
  if (!reactor_ || finished_ || broken_) {
    lock.unlock();
    done(false);
    return;
  }
  out_ = std::move(frame);
  on_write_ = std::move(done);
  reactor_->StartWrite(&out_);
}

void ExchangeChannel::start_read_locked() {
  if (read_pending_ || !reactor_ || finished_ || broken_) return;
  read_pending_ = true;
  reactor_->StartRead(&in_);
}

void ExchangeChannel::read(ReadHandler handler) {
  std::unique_lock lock(mu_);
  taken_ = true;
  if (!ahead_.empty()) {
    auto frame = std::move(ahead_.front());
    ahead_.pop_front();
    ahead_bytes_ -= std::min(ahead_bytes_, frame.ByteSizeLong());
    // Hand the session everything of the same kind that is already here: one client write, not many.
    while (!ahead_.empty() && frame.has_body() && ahead_.front().has_body()) {
      ahead_bytes_ -= std::min(ahead_bytes_, ahead_.front().ByteSizeLong());
      frame.mutable_body()->append(ahead_.front().body());
      ahead_.pop_front();
    }
    while (!ahead_.empty() && frame.has_upgraded() && ahead_.front().has_upgraded()) {
      ahead_bytes_ -= std::min(ahead_bytes_, ahead_.front().ByteSizeLong());
      frame.mutable_upgraded()->append(ahead_.front().upgraded());
      ahead_.pop_front();
    }
    if (ahead_bytes_ < kReadAheadBytes) start_read_locked();
    lock.unlock();
    handler(std::move(frame));
    return;
  }
  if (!reactor_ || finished_ || broken_) {
    lock.unlock();
    handler(std::nullopt);
    return;
  }
  on_read_ = std::move(handler);
  start_read_locked();
}

void ExchangeChannel::finish(bool ok) {
  std::lock_guard lock(mu_);
  if (!reactor_ || finished_) return;
  finished_ = true;
  reactor_->Finish(ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::CANCELLED, "exchange cancelled by the gateway"));
}

void ExchangeChannel::release() {
  {
    std::lock_guard lock(mu_);
    if (!reactor_ || finished_ || broken_) return;
    // Anything still queued or awaited belongs to the exchange that ended: not reusable.
    if (!ahead_.empty() || on_read_ || on_write_ || !read_pending_) {
      finished_ = true;
      reactor_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "exchange not reusable"));
      return;
    }
    taken_ = false;
  }
  registry_->add_idle(tunnel_id_, shared_from_this());
}

AdmittedReactor<pb::AgentFrame, pb::GatewayFrame>* make_exchange_reactor(TunnelRegistry& registry) {
  return new ExchangeReactor(registry);
}

}  // namespace sluice::gateway::tunnel
