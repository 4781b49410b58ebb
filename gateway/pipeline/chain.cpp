#include "gateway/pipeline/chain.h"

#include <spdlog/spdlog.h>

#include "common/k8s_status.h"

namespace sluice::gateway::pipeline {

Chain::Chain(boost::asio::any_io_executor strand, std::vector<std::unique_ptr<Stage>> stages,
             std::shared_ptr<Downstream> downstream, RequestCounter count, RequestContext ctx)
    : strand_(std::move(strand)),
      stages_(std::move(stages)),
      downstream_(std::move(downstream)),
      count_(std::move(count)),
      ctx_(std::move(ctx)) {}

void Chain::start() {
  ctx_.started = std::chrono::steady_clock::now();
  ctx_.received_at = audit::Clock::now();
  ctx_.audit_id = audit::new_audit_id();
  run_from_next();
}

void Chain::run_from_next() {
  while (!completed_ && next_ < stages_.size()) {
    Stage& stage = *stages_[next_++];
    entered_ = next_;
    in_stage_ = true;
    resume_early_ = false;
    Next next = Next::Stop;
    guarded(stage.name(), [&] { next = stage.on_request(ctx_, *this); });
    in_stage_ = false;
    if (completed_) return;
    if (next == Next::Continue || resume_early_) continue;
    waiting_ = true;
    return;
  }
  if (!completed_) fail("the chain", "its last stage passed the request on: no stage answered it");
}

void Chain::continue_request() {
  if (completed_) return;
  if (in_stage_) {  // the stage's wait ended before its on_request returned
    resume_early_ = true;
    return;
  }
  if (!waiting_) return;
  waiting_ = false;
  downstream_->stop_watching([self = shared_from_this()] {
    if (!self->completed_) self->run_from_next();
  });
}

void Chain::send_local_reply(int code, const std::string& message, const std::string& reason, HeaderList headers,
                             nlohmann::json details) {
  send_reply(code, "application/json", common::make_status(code, message, reason, std::move(details)).dump(),
             std::move(headers));
}

void Chain::send_reply(int code, const std::string& content_type, std::string body, HeaderList headers) {
  if (completed_) return;
  auto downstream = downstream_;
  complete(code);
  downstream->stop_watching([downstream, code, content_type, body = std::move(body),
                             headers = std::move(headers)]() mutable {
    downstream->local_reply(code, content_type, std::move(body), headers);
  });
}

void Chain::complete(int code) {
  if (completed_) return;
  completed_ = true;
  waiting_ = false;
  ctx_.status = code;
  for (std::size_t i = entered_; i-- > 0;) {
    try {
      stages_[i]->on_complete(ctx_);
    } catch (const std::exception& e) {
      spdlog::error("stage {} failed while completing request {}: {}", stages_[i]->name(), ctx_.audit_id, e.what());
    }
  }
  if (count_)
    count_(ctx_, code, std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx_.started).count());
  downstream_.reset();
}

void Chain::client_gone() {
  if (completed_) return;
  Stage* holder = waiting_ && next_ > 0 ? stages_[next_ - 1].get() : nullptr;
  waiting_ = false;
  if (holder) {
    try {
      holder->on_destroy(ctx_);
    } catch (const std::exception& e) {
      spdlog::error("stage {} failed while cancelling request {}: {}", holder->name(), ctx_.audit_id, e.what());
    }
  }
  complete(499);
}

// The stages before the one that holds the request: it is the caller of what follows. A stage that
// throws here ends the exchange through the caller's own try boundary.
Passed Chain::response_head(ResponseStart& head) {
  for (std::size_t i = holder_index(); i-- > 0;)
    if (auto r = stages_[i]->on_response_head(ctx_, head); !r) return r;
  return common::Done{};
}

Passed Chain::response_data(std::string& data, bool end) {
  for (std::size_t i = holder_index(); i-- > 0;)
    if (auto r = stages_[i]->on_response_data(ctx_, data, end); !r) return r;
  return common::Done{};
}

void Chain::request_data(const std::string& data) {
  for (std::size_t i = 0; i + 1 < entered_; ++i) stages_[i]->on_request_data(ctx_, data);
}

bool Chain::response_holding() const {
  for (std::size_t i = 0; i + 1 < entered_; ++i)
    if (stages_[i]->holding()) return true;
  return false;
}

void Chain::response_idle(std::string& out) {
  // The stage nearest the cluster that holds something lets it go; the stages after it on the way
  // back see it as data (recorded, counted).
  for (std::size_t i = holder_index(); i-- > 0;) {
    if (out.empty()) stages_[i]->on_response_idle(ctx_, out);
    else (void)stages_[i]->on_response_data(ctx_, out, false);
  }
}

std::string ResponseStart::header(std::string_view name) const {
  return first_header(headers, name);
}

void Chain::fail(const char* where, const char* what) {
  spdlog::error("request {} ({} {}): {} threw: {}", ctx_.audit_id, ctx_.method, ctx_.cluster, where, what);
  if (completed_) return;
  if (ctx_.response_started) return complete(500);
  send_local_reply(500, std::string("the gateway failed while handling this request (") + where +
                            "); it was not forwarded. The gateway's log has the details.", "InternalError");
}

}  // namespace sluice::gateway::pipeline
