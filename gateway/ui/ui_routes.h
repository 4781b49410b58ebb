// The reviewer UI at /ui/ on the gateway's HTTPS port, answered before the proxy's
// authentication (a browser sends a session cookie, not a bearer token):
//   GET  /ui/...                 the page and its assets, embedded in the binary (ui_assets.h)
//   POST /ui/api/login           {"token": "..."} or, with no token, the TLS client certificate:
//                                authenticated like an API call, then a session (session_store.h)
//   GET  /ui/api/session         who is logged in, and the CSRF token the page sends back
//   POST /ui/api/logout          ends the session
//   GET  /ui/api/approvals/events    approval changes as server-sent events (approval_events.h)
//   /ui/api/approvals[/ID[/approve|/reject]]   the approvals REST API as the session's identity
//   /ui/api/sessions[/ID[/asciicast]]          the recordings REST API, likewise
// Every answer carries a strict Content-Security-Policy (no inline script, no eval) and refuses
// framing. A session cookie authenticates nothing outside /ui/.
#pragma once
#include "gateway/pipeline/chain.h"
#include "gateway/server/proxy_context.h"
#include "gateway/ui/approval_events.h"
#include "gateway/ui/session_store.h"

namespace sluice::gateway::ui {

class UiRoutesStage : public pipeline::Stage {
 public:
  UiRoutesStage(ProxyContext& ctx, SessionStore& sessions) : ctx_(ctx), sessions_(sessions) {}
  const char* name() const override { return "reviewer ui"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  void on_destroy(pipeline::RequestContext&) override { stop_events(); }
  void on_complete(const pipeline::RequestContext&) override { stop_events(); }

 private:
  void stop_events() {
    if (events_) events_->stop();
  }
  void login(pipeline::RequestContext& ctx, pipeline::Chain& chain);
  void with_session(pipeline::RequestContext& ctx, pipeline::Chain& chain, const std::string& path);

  ProxyContext& ctx_;
  SessionStore& sessions_;
  std::shared_ptr<ApprovalEventStream> events_;
};

// The headers every /ui answer carries.
const HeaderList& security_headers();

}  // namespace sluice::gateway::ui
