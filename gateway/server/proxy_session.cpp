#include "gateway/server/proxy_session.h"

#include <boost/algorithm/string/join.hpp>

#include <spdlog/spdlog.h>

#include <sstream>

#include "common/k8s_status.h"
#include "gateway/masking/secret_patch_guard.h"
#include "gateway/server/approvals_api.h"
#include "gateway/server/request_rewrite.h"
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

void ProxySession::reply(int code, const std::string& content_type, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers, bool close_after) {
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(code), 11);
  res->set(http::field::content_type, content_type);
  res->set(http::field::cache_control, "no-cache, private");
  for (const auto& [k, v] : headers) res->set(k, v);
  res->body() = std::move(body);
  const bool keep = keep_alive_ && !close_after;
  res->keep_alive(keep);
  res->prepare_payload();
  http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
    if (ec) return self->close();
    if (!keep) return self->linger_then_close();
    self->read_request();
  });
}

void ProxySession::reply_status(int code, const std::string& message, const std::string& reason,
                                std::vector<std::pair<std::string, std::string>> headers, nlohmann::json details) {
  reply(code, "application/json", common::make_status(code, message, reason, std::move(details)).dump(),
        std::move(headers));
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
  const std::string target(req.target());
  keep_alive_ = req.keep_alive();
  started_ = std::chrono::steady_clock::now();

  if (req.method() == http::verb::get && target == "/healthz") return reply(200, "text/plain", "ok");
  if (req.method() == http::verb::get && target == "/readyz")
    return ctx_.clusters.database_ok() ? reply(200, "text/plain", "ok")
                                       : reply(503, "text/plain", "database unreachable");
  const bool metrics = req.method() == http::verb::get && target == "/metrics";
  if (metrics && !ctx_.config.metrics.listen.empty())
    return reply_status(404, "/metrics is served on the gateway's metrics listener (metrics.listen), not here",
                        "NotFound");
  if (metrics && !ctx_.config.metrics.authenticate)
    return reply(200, "text/plain; version=0.0.4", ctx_.metrics.render(ctx_.tunnels.tunnel_stats()));

  const std::string auth(req[http::field::authorization]);
  Credentials credentials;
  if (auth.size() > 7 && lower(auth.substr(0, 7)) == "bearer ") credentials.bearer_token = auth.substr(7);
  credentials.tls = stream_.native_handle();
  // Client certificate, static token, OIDC (gateway/auth/authenticator.h); OIDC may answer later,
  // from its own thread, so the answer comes back through this session's strand.
  ctx_.auth.authenticate(std::move(credentials), on_strand([this](std::optional<Identity> who, std::string why) {
    on_authenticated(std::move(who), why);
  }));
}

void ProxySession::serve_metrics(const Identity& who) {
  const auto& allowed = ctx_.config.metrics.groups;
  if (in_any_group(who, allowed))
    return reply(200, "text/plain; version=0.0.4", ctx_.metrics.render(ctx_.tunnels.tunnel_stats()));
  spdlog::info("403 /metrics for {}: in none of the metrics groups", who.user);
  reply_status(403, "/metrics is for members of " + boost::join(allowed, ", ") + " (metrics.groups); " + who.user +
                        " is in none of them", "Forbidden");
}

void ProxySession::on_authenticated(std::optional<Identity> who, const std::string& why_not) {
  const auto& req = parser_->get();
  const std::string target(req.target());
  if (!who) {
    spdlog::info("401 {} {} from {}: {}", std::string(req.method_string()), target, remote_, why_not);
    return reply_status(401, "Unauthorized", "Unauthorized");
  }
  if (req.method() == http::verb::get && target == "/metrics") return serve_metrics(*who);  // metrics.authenticate
  if (is_approvals_api_path(target)) return serve_approvals_api(*who);
  if (is_sessions_api_path(target)) {
    if (!ctx_.sessions_api) return reply_status(404, "this gateway records nothing (recording.enabled: false)", "NotFound");
    return ctx_.sessions_api->serve(std::string(req.method_string()), target, *who,
                                    on_strand([this](int code, std::string type, std::string body) {
                                      reply(code, type, std::move(body));
                                    }));
  }
  auto route = route_request(target);
  if (!route)
    return reply_status(404, "the server could not find the requested resource: Sluice serves clusters under "
                             "/clusters/<name>/ (use a kubeconfig from 'sluice-gateway kubeconfig')", "NotFound");
  if (ctx_.tunnels.has_tunnel(route->cluster) || ctx_.clusters.known(route->cluster))
    return proxy(route->cluster, route->target, *who);
  ctx_.clusters.lookup_fresh(route->cluster, on_strand([this, route = *route, who = *who](bool known) {
    if (!known)
      return reply_status(404, "cluster \"" + route.cluster + "\" is not registered with this gateway", "NotFound");
    proxy(route.cluster, route.target, who);
  }));
}

void ProxySession::serve_approvals_api(const Identity& who) {
  const auto& req = parser_->get();
  if (!ctx_.approvals)
    return reply_status(404, "this gateway has no approvals (it runs without a policy)", "NotFound");
  gateway::serve_approvals_api(*ctx_.approvals, std::string(req.method_string()), std::string(req.target()),
                               req.body(), who, ctx_.config.approvals.viewer_groups, on_strand([this](int code, nlohmann::json body) {
                                 reply(code, "application/json", body.dump());
                               }));
}

void ProxySession::proxy(const std::string& cluster, std::string target, const Identity& who) {
  auto& req = parser_->get();
  cluster_ = cluster;
  verb_ = metrics_verb(std::string(req.method_string()), target);
  ++request_gen_;
  request_bytes_in_ = request_bytes_out_ = 0;
  status_ = 0;
  received_at_ = audit::Clock::now();
  audit_id_ = audit::new_audit_id();
  const auto classified = common::classify_request(
      std::string_view(req.method_string().data(), req.method_string().size()), target);
  if (!classified.ok()) {
    if (classified.code == 422)  // as kube-apiserver words an invalid option (errors.NewInvalid)
      return deny(cluster, target, who, classified.info, 422, "the request options are invalid: " + classified.error,
                  classified.reason,
                  {{"group", "meta.k8s.io"}, {"kind", "Options"},
                   {"causes", {{{"reason", classified.cause_reason}, {"message", classified.error},
                                {"field", classified.cause_field}}}}});
    return deny(cluster, target, who, classified.info, classified.code,
                "the request cannot be understood: " + classified.error, classified.reason);
  }
  HeaderList client_headers;
  for (const auto& f : req) client_headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  for (const auto& [name, value] : client_headers) {
    if (is_client_impersonation_header(name))
      return deny(cluster, target, who, classified.info, 403,
                  "impersonation (kubectl --as/--as-group, Impersonate-* headers) is not allowed through "
                  "Sluice: requests reach the cluster as the caller the gateway authenticated (" + who.user + ")",
                  "Forbidden");
  }
  if (auto why = masking::refuse_secret_patch(classified.info, std::string(req[http::field::content_type]), req.body()))
    return deny(cluster, target, who, classified.info, 403, *why, "Forbidden");
  policy_reason_.clear();
  approval_id_.clear();
  masking_profile_.reset();
  reveal_ = false;
  if (!ctx_.policy) return forward(cluster, target, who, classified.info, std::move(client_headers));
  PolicyQuestion question{cluster, who, classified.info, std::string(req.method_string()), target,
                          std::string(req[http::field::content_type]), req.body(), fetch_audit()};
  check_policy(stream_.get_executor(), ctx_.tunnels, ctx_.policy->current(), std::move(question),
               on_strand([this, cluster, target, who, info = classified.info,
                          headers = std::move(client_headers)](PolicyVerdict v) mutable {
                 on_policy_decided(cluster, target, who, info, std::move(headers), v);
               }));
}

void ProxySession::on_policy_decided(const std::string& cluster, const std::string& target, const Identity& who,
                                     const common::RequestInfo& info, HeaderList client_headers,
                                     const PolicyVerdict& verdict) {
  const auto& d = verdict.decision;
  masking_profile_ = policy::masking_profile_for(verdict.engine->policy(), d.rule);
  const std::string rule = d.rule ? "Sluice policy rule '" + d.rule->name + "'" : "Sluice's default policy";
  if (d.action == policy::Action::deny)
    return deny(cluster, target, who, info, 403, d.message + " (" + rule + ")", "Forbidden");
  if (d.action == policy::Action::approve) {
    if (!ctx_.approval_gate)
      // Fail closed: without an approval store approval cannot be obtained, and a request that
      // needs it does not reach the cluster.
      return deny(cluster, target, who, info, 403,
                  d.message + " (" + rule + "): approval is required, and this gateway cannot obtain one; the "
                  "request was not forwarded", "Forbidden");
    return ask_for_approval(cluster, target, who, info, std::move(client_headers), *d.rule, d.message);
  }
  policy_reason_ = d.rule ? "allowed by rule " + d.rule->name : "";
  forward(cluster, target, who, info, std::move(client_headers));
}

void ProxySession::ask_for_approval(const std::string& cluster, const std::string& target, const Identity& who,
                                    const common::RequestInfo& info, HeaderList client_headers,
                                    const policy::Rule& rule, const std::string& message) {
  const auto& req = parser_->get();
  ApprovalAsk ask{cluster, who, info, std::string(req.method_string()), target,
                  std::string(req[http::field::content_type]), std::string(req[http::field::content_encoding]),
                  req.body(), std::string(req["Kubectl-Command"]),
                  std::string(req["Kubectl-Session"]), rule.name, message, rule.approval, masking_profile_,
                  fetch_audit()};
  auto self = shared_from_this();
  const auto gen = request_gen_;
  ctx_.approval_gate->decide(
      stream_.get_executor(), std::move(ask),
      [self, gen](ApprovalGate::Hold hold) {
        if (gen != self->request_gen_ || self->client_gone_) return;
        self->hold_ = std::move(hold);
        self->holding_ = true;
        self->keep_alive_ = false;  // the bytes the probe reads belong to nobody: no reuse after this
        self->probe_held_client();
      },
      [self, gen, cluster, target, who, info, headers = std::move(client_headers),
       reveal = rule.reveal](ApprovalVerdict v) mutable {
        if (gen != self->request_gen_ || self->client_gone_) return;
        auto go = [self, cluster, target, who, info, headers = std::move(headers), v = std::move(v), reveal]() mutable {
          self->approval_id_ = v.approval_id;
          if (!v.forward)
            return self->deny(cluster, target, who, info, v.code, v.message,
                              v.code == 429 ? "TooManyRequests" : "Forbidden");
          self->policy_reason_ = v.audit_reason;
          self->reveal_ = reveal;  // only an approved request may see Secret values
          self->forward(cluster, target, who, info, std::move(headers));
        };
        if (self->holding_) {
          self->holding_ = false;
          if (self->probing_) {  // go on once the probe's read is cancelled: one read at a time
            self->after_hold_ = std::move(go);
            beast::error_code ec;
            self->stream_.socket().cancel(ec);
            return;
          }
        }
        go();
      });
}

void ProxySession::probe_held_client() {
  // While reviewers decide, a read notices kubectl giving up (Ctrl-C, its own timeout): the
  // approval is then cancelled instead of waiting for nobody.
  probing_ = true;
  stream_.async_read_some(net::buffer(client_probe_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->probing_ = false;
    if (self->holding_) {
      if (!ec) return self->probe_held_client();  // a pipelined request: dropped, the connection closes after
      self->holding_ = false;
      self->client_gone_ = true;
      self->ctx_.approval_gate->client_gone(self->hold_);
      const auto& req = self->parser_->get();
      spdlog::info("approval {}: the client of {} {} went away while it was pending", self->hold_.id,
                   std::string(req.method_string()), self->cluster_);
      return self->close();
    }
    if (auto next = std::move(self->after_hold_)) {
      self->after_hold_ = nullptr;
      next();
    }
  });
}

void ProxySession::forward(const std::string& cluster, const std::string& target, const Identity& who,
                           const common::RequestInfo& info, HeaderList client_headers) {
  auto& req = parser_->get();

  const bool upgrade = req.find(http::field::upgrade) != req.end();
  masking_plan_ = masking::plan_masking(info, masking_profile_, reveal_);
  if (auto why = masking::refuse_request(masking_plan_, client_headers))
    return deny(cluster, target, who, info, 400, *why, "BadRequest");
  if (auto why = masking::refuse_masked_write(masking_plan_, info, req.body()))
    return deny(cluster, target, who, info, 400, *why, "BadRequest");
  auto upstream_headers = rewrite_request_headers(client_headers, who, upgrade);
  masking::prepare_request(masking_plan_, upstream_headers);
  tunnel::pb::GatewayFrame head;
  auto* h = head.mutable_request_head();
  h->set_method(std::string(req.method_string()));
  h->set_target(target);
  auto add_header = [h](const std::string& k, const std::string& v) {
    auto* hh = h->add_headers();
    hh->set_name(k);
    hh->set_value(v);
  };
  for (const auto& [k, v] : upstream_headers)
    if (!beast::iequals(k, "Audit-ID")) add_header(k, v);
  add_header("Audit-ID", audit_id_);  // the cluster's own audit log records the same id
  std::string& body = req.body();
  if (ctx_.recordings) start_recording(cluster, target, who, info, client_headers, upgrade);
  ctx_.metrics.add_bytes_in(body.size());
  request_bytes_in_ += body.size();
  tunnel::append_request_frames(std::move(head), std::move(body), frames_out_);

  if (!ctx_.audit) return acquire_exchange();
  // Durable before forwarding: nothing enters the tunnel until the intent row is committed.
  awaiting_audit_ = audited_ = true;
  if (!audit_timer_) audit_timer_.emplace(stream_.get_executor());  // one per connection, re-armed
  audit_timer_->expires_after(ctx_.audit->options().commit_timeout);
  audit_timer_->async_wait([self = shared_from_this(), gen = request_gen_](beast::error_code ec) {
    if (ec || gen != self->request_gen_ || !self->awaiting_audit_) return;
    self->on_audit_committed(false);
  });
  ctx_.audit->record_intent(make_intent(cluster, target, who, info),
                            on_strand([this, gen = request_gen_](bool ok) {
                              if (gen != request_gen_ || !awaiting_audit_) return;  // already refused
                              on_audit_committed(ok);
                            }));
}

void ProxySession::deny(const std::string& cluster, const std::string& target, const Identity& who,
                        const common::RequestInfo& info, int code, const std::string& message,
                        const std::string& reason, nlohmann::json details) {
  spdlog::info("{} {} {} on {} for {}: {}", code, info.verb, target, cluster, who.user, message);  // raw target: a decoded path may hold control characters
  if (ctx_.audit) {
    auto intent = make_intent(cluster, target, who, info);
    intent.decision = "denied";
    intent.decision_reason = message;
    intent.outcome = make_outcome(code);
    ctx_.audit->record_intent(std::move(intent), [](bool) {});  // nothing is forwarded: no need to wait
  }
  reply_status(code, message, reason, {}, std::move(details));
}

FetchAudit ProxySession::fetch_audit() const {
  const auto& req = parser_->get();
  const auto forwarded_for = req["X-Forwarded-For"];
  return {ctx_.audit, audit_id_,
          source_address(remote_, std::string_view(forwarded_for.data(), forwarded_for.size()), ctx_.trusted_proxies)};
}

audit::AuditIntent ProxySession::make_intent(const std::string& cluster, const std::string& target,
                                             const Identity& who, const common::RequestInfo& info) {
  const auto& req = parser_->get();
  audit::AuditIntent a;
  a.id = audit_id_;
  a.received_at = received_at_;
  a.cluster = cluster;
  a.who = who;
  const auto forwarded_for = req["X-Forwarded-For"];
  a.source_ip = source_address(remote_, std::string_view(forwarded_for.data(), forwarded_for.size()), ctx_.trusted_proxies);
  a.user_agent = std::string(req[http::field::user_agent]);
  a.kubectl_command = std::string(req["Kubectl-Command"]);
  a.kubectl_session = std::string(req["Kubectl-Session"]);
  a.request = info;
  a.request_uri = target;
  a.decision_reason = policy_reason_;
  a.approval_id = approval_id_;
  return a;
}

void ProxySession::on_audit_committed(bool ok) {
  awaiting_audit_ = false;
  audit_timer_->cancel();
  if (ok) return acquire_exchange();
  frames_out_.clear();
  spdlog::warn("503 {} {} on {}: the audit row was not committed in time; not forwarded", verb_, audit_id_, cluster_);
  audit_outcome(503);
  finish_recording(503);
  reply_status(503, "audit store unavailable; request not forwarded", "ServiceUnavailable",
               {{"Retry-After", kRetryAfterSeconds}});
}

audit::AuditOutcome ProxySession::make_outcome(int code) const {
  audit::AuditOutcome o;
  o.id = audit_id_;
  o.received_at = received_at_;
  o.response_code = code;
  o.finished_at = audit::Clock::now();
  o.duration_ms = std::chrono::duration<double, std::milli>(o.finished_at - received_at_).count();
  o.bytes_in = request_bytes_in_;
  o.bytes_out = request_bytes_out_;
  return o;
}

void ProxySession::audit_outcome(int code) {
  if (!audited_ || !ctx_.audit) return;
  audited_ = false;
  ctx_.audit->record_outcome(make_outcome(code));
}

void ProxySession::acquire_exchange() {
  const std::string cluster = cluster_;
  wait_timer_.emplace(stream_.get_executor());
  wait_timer_->expires_after(std::chrono::seconds(ctx_.config.limits.exchange_wait_seconds));
  wait_ticket_ = ctx_.tunnels.acquire(cluster, on_strand([this](std::shared_ptr<tunnel::ExchangeChannel> ch) {
    on_exchange(std::move(ch));
  }));
  if (wait_ticket_ == 0) {
    frames_out_.clear();
    audit_outcome(503);
    finish_recording(503);
    return reply_status(503, "cluster \"" + cluster + "\" has no connected agent; retry shortly", "ServiceUnavailable",
                        {{"Retry-After", kRetryAfterSeconds}});
  }
  wait_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->channel_ || self->wait_ticket_ == 0) return;
    self->ctx_.tunnels.cancel_wait(self->cluster_, self->wait_ticket_);
    self->wait_ticket_ = 0;
    self->frames_out_.clear();
    self->audit_outcome(503);
    self->finish_recording(503);
    self->reply_status(503, "cluster \"" + self->cluster_ + "\" did not accept the request within " +
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
  finish_recording(code);
  channel_->finish(false);
  channel_.reset();
  ctx_.metrics.exchange_closed();
  ctx_.metrics.request_done(cluster_, verb_, code, 0);
  audit_outcome(code);
  keep_alive_ = false;
  filter_.reset();
  reply_status(code, message, "InternalError");
}

void ProxySession::on_frame(std::optional<tunnel::pb::AgentFrame> frame) {
  if (!channel_) return;
  if (!frame || frame->has_reset()) {
    const std::string why = frame ? frame->reset().reason() : "the tunnel closed";
    if (head_sent_) return abort_exchange(why);
    return fail_before_head(502, "the agent of cluster \"" + cluster_ + "\" could not complete the request: " + why);
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
    if (recorder_) recorder_->from_cluster(data);
    ctx_.metrics.add_bytes_out(data.size());
    request_bytes_out_ += data.size();
    if (data.empty()) return read_frame();
    return write_to_client(chunked_ ? chunk_encode(data) : std::move(data), After::read_frame);
  }
  if (frame->has_end()) {
    std::string tail;
    if (filter_ && !filter_->finish(tail)) return abort_masking(filter_->error());
    if (recorder_) recorder_->from_cluster(tail);
    ctx_.metrics.add_bytes_out(tail.size());
    request_bytes_out_ += tail.size();
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
      status_ == 204 || status_ == 304 || status_ < 200 || parser_->get().method() == http::verb::head;
  // The masking stage: a response that must be checked but cannot be read never reaches the client.
  filter_.reset();
  if (masking_plan_.kind != masking::MaskingPlan::Kind::none && (!bodiless || upgraded_)) {
    std::string content_type, content_encoding, protocol, refusal;
    for (const auto& hh : rh.headers()) {
      if (beast::iequals(hh.name(), "Content-Type")) content_type = hh.value();
      if (beast::iequals(hh.name(), "Content-Encoding")) content_encoding = hh.value();
      if (beast::iequals(hh.name(), "Sec-WebSocket-Protocol")) protocol = hh.value();
    }
    filter_ = masking::ResponseFilter::start(masking_plan_, status_, content_type, content_encoding, protocol, refusal);
    if (!refusal.empty()) {
      spdlog::warn("502 {} {} on {}: {}", verb_, audit_id_, cluster_, refusal);
      return fail_before_head(502, refusal);
    }
  }
  std::string body = std::move(*rh.mutable_body());
  if (filter_) {
    std::string masked;
    bool ok = filter_->feed(body, masked);
    if (ok && rh.complete()) ok = filter_->finish(masked);
    if (!ok) {
      spdlog::warn("502 {} {} on {}: masking failed: {}", verb_, audit_id_, cluster_, filter_->error());
      return fail_before_head(502, "the cluster's answer could not be checked for secrets (" + filter_->error() +
                                       "); it was not passed on");
    }
    body = std::move(masked);
  }
  if (recorder_) {
    auto headers = nlohmann::json::array();
    for (const auto& hh : rh.headers()) headers.push_back({hh.name(), hh.value()});
    recorder_->response_head(status_, std::move(headers));
    recorder_->from_cluster(body);
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
      if (recorder_) recorder_->from_client(f.upgraded());
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
  ctx_.metrics.add_bytes_out(body.size());
  request_bytes_out_ += body.size();
  if (!body.empty()) out += chunked_ ? chunk_encode(body) : body;
  if (!rh.complete()) {
    arm_idle_flush();
    return write_to_client(std::move(out), After::read_frame);
  }
  if (chunked_) out += "0\r\n\r\n";
  write_to_client(std::move(out), After::finish);
}

const std::string& ProxySession::connection_id() {
  if (connection_id_.empty()) connection_id_ = audit::new_audit_id();
  return connection_id_;
}

void ProxySession::start_recording(const std::string& cluster, const std::string& target, const Identity& who,
                                   const common::RequestInfo& info, const HeaderList& client_headers, bool upgrade) {
  const auto& req = parser_->get();
  recording::ExchangeStart start;
  start.id = audit_id_;
  start.session_key = recording::session_key(who.user, cluster, std::string(req["Kubectl-Session"]), connection_id());
  start.cluster = cluster;
  start.username = who.user;
  start.kubectl_command = std::string(req["Kubectl-Command"]);
  start.started_at = received_at_;
  const bool websocket = beast::iequals(req[http::field::upgrade], "websocket");
  const bool exec = info.api_group.empty() && info.resource == "pods" &&
                    (info.subresource == "exec" || info.subresource == "attach");
  start.kind = !upgrade ? "http" : exec && websocket ? "exec" : "raw";
  start.method = std::string(req.method_string());
  start.request_uri = target;
  start.request_headers = nlohmann::json::array();
  for (const auto& [name, value] : client_headers)  // credentials are never recorded
    if (!beast::iequals(name, "Authorization") && !beast::iequals(name, "Proxy-Authorization") &&
        !beast::iequals(name, "Cookie"))
      start.request_headers.push_back({name, value});
  recorder_ = std::make_unique<recording::ExchangeRecorder>(*ctx_.recordings, std::move(start),
                                                            ctx_.config.recording.max_body_bytes, masking_plan_.profile);
  const std::string& body = req.body();
  if (body.empty()) return;
  if (masking_plan_.kind != masking::MaskingPlan::Kind::json) return recorder_->request_body(body);
  // A body of something masked is recorded masked; one that cannot be masked (protobuf, a JSON
  // Patch whose values sit outside `data`) is recorded by size and hash only.
  if (lower(std::string(req[http::field::content_type])).find("json-patch") != std::string::npos)
    return recorder_->request_body_withheld(body);
  masking::JsonStreamMasker masker(masking_plan_.scope);
  std::string masked;
  if (masker.feed(body, masked) && masker.finish(masked)) return recorder_->request_body(masked);
  recorder_->request_body_withheld(body);
}

void ProxySession::finish_recording(int code_if_unanswered) {
  if (!recorder_) return;
  if (code_if_unanswered) recorder_->response_head(code_if_unanswered, nlohmann::json::array());
  recorder_->finish();
  recorder_.reset();
}

void ProxySession::abort_masking(const std::string& why) {
  spdlog::warn("{} {} on {}: the response was cut off, it could not be checked for secrets: {}", verb_, audit_id_,
               cluster_, why);
  abort_exchange("the response could not be checked for secrets: " + why);
}

void ProxySession::arm_idle_flush() {
  // Detectors hold back a tail that may begin a secret; when nothing follows for a moment (a shell
  // waiting for its echo, a log between lines) it is passed on, masked if it is long enough.
  if (!filter_ || !filter_->holding()) return;
  if (!idle_flush_timer_) idle_flush_timer_.emplace(stream_.get_executor());
  idle_flush_timer_->expires_after(kIdleFlushAfter);
  idle_flush_timer_->async_wait([self = shared_from_this(), gen = request_gen_](beast::error_code ec) {
    if (ec || gen != self->request_gen_ || !self->channel_ || !self->filter_ || !self->filter_->holding()) return;
    std::string out;
    self->filter_->idle_flush(out);
    if (out.empty()) return;
    if (self->recorder_) self->recorder_->from_cluster(out);
    self->ctx_.metrics.add_bytes_out(out.size());
    self->request_bytes_out_ += out.size();
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
    self->request_bytes_in_ += n;
    if (self->recorder_) self->recorder_->from_client(std::string_view(self->client_buf_.data(), n));
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
  ctx_.metrics.request_done(cluster_, verb_, status_,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  audit_outcome(status_);
  finish_recording();
  if (long_running_timer_) long_running_timer_->cancel();
  if (idle_flush_timer_) idle_flush_timer_->cancel();
  filter_.reset();
  if (keep_alive_ && !close_after_ && !watching_client_) return read_request();
  close();
}

void ProxySession::abort_exchange(const std::string& why) {
  if (channel_) {
    if (!why.empty()) spdlog::debug("exchange to {} ended: {}", cluster_, why);
    tunnel::pb::GatewayFrame reset;
    reset.mutable_reset()->set_reason(why.empty() ? "closed" : why);
    frames_out_.clear();
    auto ch = channel_;
    channel_.reset();
    ctx_.metrics.exchange_closed();
    ctx_.metrics.request_done(cluster_, verb_, status_ ? status_ : 499,
                              std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
    audit_outcome(status_ ? status_ : 499);
    finish_recording(status_ ? 0 : 499);
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
  if (long_running_timer_) long_running_timer_->cancel();
  if (idle_flush_timer_) idle_flush_timer_->cancel();
  if (audit_timer_) audit_timer_->cancel();
  if (wait_timer_) wait_timer_->cancel();
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

}  // namespace sluice::gateway
