// Durable before forwarding: nothing enters the tunnel until the request's intent row is
// committed. A row that cannot be committed in time means 503, and the request is not sent.
#pragma once
#include <boost/asio/steady_timer.hpp>

#include <optional>

#include "gateway/audit/audit_writer.h"
#include "gateway/pipeline/chain.h"

namespace sluice::gateway::stages {

class AuditCommitStage : public pipeline::Stage {
 public:
  explicit AuditCommitStage(audit::AuditWriter* writer) : writer_(writer) {}
  const char* name() const override { return "audit commit"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  void on_complete(const pipeline::RequestContext&) override { cancel(); }
  void on_destroy(pipeline::RequestContext&) override { cancel(); }

 private:
  void committed(pipeline::Chain& chain, bool ok);
  void cancel() {
    if (timer_) timer_->cancel();
  }
  audit::AuditWriter* writer_;  // null: the gateway runs without an audit trail
  std::optional<boost::asio::steady_timer> timer_;
  bool waiting_ = false;
};

}  // namespace sluice::gateway::stages
