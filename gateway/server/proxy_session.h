// One client connection to the gateway: TLS, request limits and timeouts, the write queue and
// lingering close, and, for now, the relay of a request through an Exchange of the cluster's
// tunnel (upgrades included) as the chain's last stage. What happens to a request before it is
// relayed is the stage chain's (gateway/stages/stage_order.cpp).
#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/tls_socket_stream.h"
#include "gateway/masking/response_masking.h"
#include "gateway/pipeline/chain.h"
#include "gateway/stages/stage_order.h"
#include "gateway/tunnel/tunnel_registry.h"


namespace sluice::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

class ProxySession : public std::enable_shared_from_this<ProxySession>, public pipeline::Downstream {
 public:
  ProxySession(net::ip::tcp::socket socket, net::ssl::context& tls, ProxyContext& ctx);
  void start();

  // pipeline::Downstream
  void local_reply(int code, const std::string& content_type, std::string body, const HeaderList& headers) override;
  void watch_client_while_waiting() override;
  void stop_watching(std::function<void()> resume) override;

 private:
  class Upstream;  // the chain's last stage: the exchange through the tunnel
  void read_request();
  void read_header();
  void on_header(beast::error_code ec);
  void on_request(beast::error_code ec);
  void reply(int code, const std::string& content_type, std::string body, const HeaderList& headers = {});
  void reply_status(int code, const std::string& message, const std::string& reason);
  void probe_waiting_client();

  // The exchange (the Upstream stage).
  void start_exchange();
  void acquire_exchange();
  void on_exchange(std::shared_ptr<tunnel::ExchangeChannel> channel);
  void send_frame(tunnel::pb::GatewayFrame frame);
  void write_next_frame();
  void read_frame();
  void on_frame(std::optional<tunnel::pb::AgentFrame> frame);
  void on_response_head(tunnel::pb::ResponseHead& head);
  // Ends an exchange whose response head has not been written: the client gets `code` and a Status.
  void fail_before_head(int code, const std::string& message);
  void abort_masking(const std::string& why);
  void arm_idle_flush();
  void count_out(const std::string& data);  // bytes toward the client: metrics, context, recording
  recording::ExchangeRecorder* recorder() const;
  pipeline::RequestContext& request() { return chain_->context(); }
  enum class After { read_frame, finish, abort, nothing };
  void write_to_client(std::string data, After after);
  void write_next_to_client();
  void finish_exchange(bool ok);
  void relay_from_client();
  void watch_client();
  void abort_exchange(const std::string& why);
  void linger_then_close();
  void close();
  template <class F>
  auto on_strand(F&& f) {
    return [self = shared_from_this(), f = std::forward<F>(f)](auto&&... args) mutable {
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), f = std::move(f),
                           ... a = std::forward<decltype(args)>(args)]() mutable { f(std::move(a)...); });
    };
  }

  common::TlsSocketStream stream_;
  ProxyContext& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  std::string connection_id_;  // groups the recordings of a client that sends no Kubectl-Session
  bool keep_alive_ = true, lingering_ = false;
  std::shared_ptr<pipeline::Chain> chain_;  // the request in flight (or the last one)
  // A stage waits (reviewers): a read notices the client leaving; `resume_` runs once it is cancelled.
  bool probing_ = false;
  std::function<void()> resume_;

  // The exchange in flight.
  std::shared_ptr<tunnel::ExchangeChannel> channel_;
  std::shared_ptr<tunnel::ExchangeChannel> pending_release_;  // reusable once its last write is confirmed
  std::deque<tunnel::pb::GatewayFrame> frames_out_;
  bool frame_writing_ = false;
  int status_ = 0;
  bool chunked_ = false, upgraded_ = false, head_sent_ = false, client_gone_ = false;
  bool close_after_ = false, watching_client_ = false, relay_reading_ = false;
  std::uint64_t wait_ticket_ = 0, exchange_gen_ = 0;
  std::optional<net::steady_timer> wait_timer_;
  std::optional<net::steady_timer> long_running_timer_;
  std::unique_ptr<masking::ResponseFilter> filter_;  // the masking of the response in flight
  std::optional<net::steady_timer> idle_flush_timer_;
  // Writes to the client, one at a time.
  struct PendingWrite {
    std::string data;
    After after;
  };
  std::deque<PendingWrite> client_out_;
  bool client_writing_ = false;
  std::vector<char> client_buf_;         // upgraded streams, lingering close
  std::array<char, 64> client_probe_{};  // long-running responses: notices the client leaving
};

}  // namespace sluice::gateway
