// One client connection to the gateway: TLS, request limits, authentication, routing, and the
// relay of each request through an Exchange of the cluster's tunnel (upgrades included).
#pragma once
#include <utility>
#include <nlohmann/json.hpp>
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
#include "gateway/approval/approval_service.h"
#include "gateway/audit/audit_writer.h"
#include "gateway/auth/authenticator.h"
#include "gateway/config/gateway_config.h"
#include "gateway/masking/response_masking.h"
#include "gateway/recording/exchange_recorder.h"
#include "gateway/server/approval_gate.h"
#include "gateway/server/cluster_directory.h"
#include "gateway/policy/policy_store.h"
#include "gateway/server/metrics.h"
#include "gateway/server/policy_check.h"
#include "gateway/server/request_rewrite.h"
#include "gateway/server/sessions_api.h"
#include "gateway/server/source_address.h"
#include "gateway/tunnel/tunnel_registry.h"

namespace sluice::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

struct ProxyContext {
  const GatewayConfig& config;
  const AuthenticatorChain& auth;
  tunnel::TunnelRegistry& tunnels;
  ClusterDirectory& clusters;
  Metrics& metrics;
  audit::AuditWriter* audit;  // nullptr: intent audit switched off (the benchmark's comparison run)
  const TrustedProxies& trusted_proxies;
  policy::PolicyStore* policy;  // nullptr: no policy configured, every authenticated request flows
  approval::ApprovalService* approvals;  // nullptr: no approvals API
  ApprovalGate* approval_gate;           // nullptr: `approve` decisions fail closed
  recording::RecordingWriter* recordings;  // nullptr: recording switched off
  SessionsApi* sessions_api;               // nullptr: recording switched off
};

class ProxySession : public std::enable_shared_from_this<ProxySession> {
 public:
  ProxySession(net::ip::tcp::socket socket, net::ssl::context& tls, ProxyContext& ctx);
  void start();

 private:
  void read_request();
  void read_header();
  void on_header(beast::error_code ec);
  void on_request(beast::error_code ec);
  void serve_metrics(const Identity& who);
  void on_authenticated(std::optional<Identity> who, const std::string& why_not);
  void reply(int code, const std::string& content_type, std::string body,
             std::vector<std::pair<std::string, std::string>> headers = {}, bool close = false);
  void reply_status(int code, const std::string& message, const std::string& reason = {},
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    nlohmann::json details = nullptr);
  void proxy(const std::string& cluster, std::string target, const Identity& who);
  void on_policy_decided(const std::string& cluster, const std::string& target, const Identity& who,
                         const common::RequestInfo& info, HeaderList client_headers, const PolicyVerdict& verdict);
  void forward(const std::string& cluster, const std::string& target, const Identity& who,
               const common::RequestInfo& info, HeaderList client_headers);
  // approve: nothing is forwarded until reviewers approved this request (approval_gate.h).
  void ask_for_approval(const std::string& cluster, const std::string& target, const Identity& who,
                        const common::RequestInfo& info, HeaderList client_headers, const policy::Rule& rule,
                        const std::string& message);
  void probe_held_client();
  void serve_approvals_api(const Identity& who);
  audit::AuditIntent make_intent(const std::string& cluster, const std::string& target, const Identity& who,
                                 const common::RequestInfo& info);
  void on_audit_committed(bool ok);
  FetchAudit fetch_audit() const;  // for the gateway's own requests on behalf of this one
  // Refuses the request without forwarding it; the refusal is audited as denied.
  void deny(const std::string& cluster, const std::string& target, const Identity& who,
            const common::RequestInfo& info, int code, const std::string& message, const std::string& reason,
            nlohmann::json details = nullptr);
  void acquire_exchange();
  audit::AuditOutcome make_outcome(int code) const;
  void audit_outcome(int code);
  void on_exchange(std::shared_ptr<tunnel::ExchangeChannel> channel);
  void send_frame(tunnel::pb::GatewayFrame frame);
  void write_next_frame();
  void read_frame();
  void on_frame(std::optional<tunnel::pb::AgentFrame> frame);
  void on_response_head(tunnel::pb::ResponseHead& head);
  // Ends an exchange whose response head has not been written: the client gets `code` and a Status.
  void fail_before_head(int code, const std::string& message);
  void abort_masking(const std::string& why);
  // The recording of the exchange in flight (gateway/recording/).
  void start_recording(const std::string& cluster, const std::string& target, const Identity& who,
                       const common::RequestInfo& info, const HeaderList& client_headers, bool upgrade);
  void finish_recording(int code_if_unanswered = 0);  // the code when no response came
  const std::string& connection_id();
  void arm_idle_flush();
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

  // The exchange in flight.
  std::shared_ptr<tunnel::ExchangeChannel> channel_;
  std::shared_ptr<tunnel::ExchangeChannel> pending_release_;  // reusable once its last write is confirmed
  std::deque<tunnel::pb::GatewayFrame> frames_out_;
  bool frame_writing_ = false;
  std::string cluster_, verb_;
  std::chrono::steady_clock::time_point started_;
  int status_ = 0;
  bool chunked_ = false, upgraded_ = false, head_sent_ = false, client_gone_ = false, keep_alive_ = true;
  bool close_after_ = false, watching_client_ = false, relay_reading_ = false;
  std::uint64_t wait_ticket_ = 0;
  // The intent audit of the request in flight: forwarded only once its row is committed.
  std::string audit_id_;
  std::string policy_reason_;
  // A request held for reviewers: its hold, and what to do once the probe's read is cancelled.
  ApprovalGate::Hold hold_;
  std::string approval_id_;  // for the audit row: the approval that decided the request in flight
  bool holding_ = false, probing_ = false;
  std::function<void()> after_hold_;  // the rule that allowed the request in flight, for its audit row
  audit::Clock::time_point received_at_;
  bool audited_ = false, awaiting_audit_ = false;
  std::uint64_t request_gen_ = 0, request_bytes_in_ = 0, request_bytes_out_ = 0;
  std::optional<net::steady_timer> audit_timer_;
  std::optional<net::steady_timer> wait_timer_;
  std::optional<net::steady_timer> long_running_timer_;
  // The masking stage of the request in flight: the plan from its request, the filter of its response.
  std::shared_ptr<const masking::MaskingProfile> masking_profile_;  // the policy's choice; null: built-in
  bool reveal_ = false;                                             // an approved `reveal` rule
  masking::MaskingPlan masking_plan_;
  std::unique_ptr<masking::ResponseFilter> filter_;
  std::unique_ptr<recording::ExchangeRecorder> recorder_;
  std::string connection_id_;  // groups the recordings of a client that sends no Kubectl-Session
  std::optional<net::steady_timer> idle_flush_timer_;
  // Writes to the client, one at a time.
  struct PendingWrite {
    std::string data;
    After after;
  };
  std::deque<PendingWrite> client_out_;
  bool client_writing_ = false;
  std::vector<char> client_buf_;           // upgraded streams, lingering close
  bool lingering_ = false;
  std::array<char, 64> client_probe_{};    // long-running responses: notices the client leaving
};

}  // namespace sluice::gateway
