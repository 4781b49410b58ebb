// The chain's last stage (Envoy's router filter): the request goes to its cluster through an
// Exchange of the agent's tunnel, and the answer streams back to the client as it comes, through
// the chain's way back (response masking, recording: pipeline/stage.h), one frame in flight each
// way. After a 101 it relays the upgraded stream both ways.
#pragma once
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>

#include "common/fifo.h"
#include "common/websocket_frames.h"
#include "gateway/pipeline/chain.h"
#include "gateway/pipeline/metrics.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway::tunnel {

class UpstreamExchange : public pipeline::Stage {
 public:
  UpstreamExchange(TunnelRegistry& tunnels, Metrics& metrics, std::chrono::seconds wait_limit)
      : tunnels_(tunnels), metrics_(metrics), wait_limit_(wait_limit) {}
  const char* name() const override { return "upstream"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  void on_destroy(pipeline::RequestContext&) override { abort("the client went away"); }

 private:
  template <class F>
  auto on_strand(F&& f);  // unlike chain.on_strand, also after completion: a channel must be given back
  void acquire();
  void on_exchange(std::shared_ptr<ExchangeChannel> channel);
  void send_frame(pb::GatewayFrame frame);
  void write_next_frame();
  void read_frame();
  void on_frame(std::optional<pb::AgentFrame> frame);
  void on_response_head(pb::ResponseHead& head);
  void send(std::string data, bool end, bool abort_after);
  void relay_from_client();
  void arm_idle_flush();
  void count_out(const std::string& data);
  // Ends an exchange whose response head has not been written: the client gets `code` and a Status.
  void fail_before_head(int code, const std::string& message);
  void cut_off(const std::string& why);  // the way back refused the rest of a started answer
  void finish();  // the response is complete and written
  void abort(const std::string& why);
  void end_channel();
  void failed(const char* what);  // a handler threw
  // A client write's completion: `then` runs once it went out, while the exchange is still on.
  template <class F>
  pipeline::Downstream::Written written(F then) {
    return [this, keep = chain_->shared_from_this(), then = std::move(then)](bool ok) {
      if (ok && !done_) then();
    };
  }

  TunnelRegistry& tunnels_;
  Metrics& metrics_;
  const std::chrono::seconds wait_limit_;
  pipeline::Chain* chain_ = nullptr;
  std::shared_ptr<pipeline::Downstream> client_;  // until the exchange ends
  std::shared_ptr<ExchangeChannel> channel_;
  common::Fifo<pb::GatewayFrame> frames_out_;
  bool frame_writing_ = false, release_after_write_ = false, upgraded_ = false, head_sent_ = false, done_ = false;
  int status_ = 0;
  std::uint64_t wait_ticket_ = 0;
  std::optional<boost::asio::steady_timer> wait_timer_, idle_flush_timer_;
  std::unique_ptr<common::WebSocketCloseFinder> close_finder_;  // an upgraded WebSocket: its close goes alone
};

}  // namespace sluice::gateway::tunnel
