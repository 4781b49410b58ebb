// The reviewer UI at /ui/ on the gateway's HTTPS port, answered before the proxy's
// authentication (a browser sends a session cookie, not a bearer token):
//   GET  /ui/...                 the page and its assets, embedded in the binary (ui_assets.h)
//   GET  /ui/api/login/options   the identity providers the login page offers
//   POST /ui/api/login           {"token": "..."} or, with no token, the TLS client certificate:
//                                authenticated like an API call, then a session (session_store.h)
//   GET  /ui/login/oidc?provider=N[&return=/ui/...]   off to the identity provider (oidc_login.h)
//   GET  /ui/callback?code=...&state=...              back from it: a session, then the return page
//   GET  /ui/api/session         who is logged in, and the CSRF token the page sends back
//   POST /ui/api/logout          ends the session
//   GET  /ui/api/approvals/events    approval changes as server-sent events (approval_events.h)
//   /ui/api/approvals[/ID[/approve|/reject]]   the approvals REST API as the session's identity
//   /ui/api/sessions[/ID[/asciicast]]          the recordings REST API, likewise
//   /ui/api/audit[/export|/verify]             the audit trail's REST API, likewise
// Every answer carries a strict Content-Security-Policy (no inline script, no eval) and refuses
// framing. A session cookie authenticates nothing outside /ui/.
#pragma once
#include "gateway/pipeline/chain.h"
#include "gateway/server/proxy_context.h"
#include "gateway/ui/approval_events.h"
#include "gateway/ui/oidc_login.h"
#include "gateway/ui/session_store.h"

namespace sluice::gateway::ui {

// What the UI keeps across requests; `oidc` is null when no issuer has a client_id.
struct UiServices {
  SessionStore& sessions;
  OidcLogin* oidc = nullptr;
};

class UiRoutesStage : public pipeline::Stage {
 public:
  UiRoutesStage(ProxyContext& ctx, UiServices& services) : ctx_(ctx), sessions_(services.sessions), oidc_(services.oidc) {}
  const char* name() const override { return "reviewer ui"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;
  void on_destroy(pipeline::RequestContext&) override { stop_events(); }
  void on_complete(const pipeline::RequestContext&) override { stop_events(); }

 private:
  void stop_events() {
    if (events_) events_->stop();
    if (audit_export_) audit_export_->stop();
  }
  void login(pipeline::RequestContext& ctx, pipeline::Chain& chain);
  void start_oidc(pipeline::RequestContext& ctx, pipeline::Chain& chain);
  void finish_oidc(pipeline::RequestContext& ctx, pipeline::Chain& chain);
  // The identity a login established becomes a session; `then` shapes the answer.
  void open_session(pipeline::Chain& chain, const Identity& who,
                    std::function<void(const std::string& cookie, const Session&)> then);
  void with_session(pipeline::RequestContext& ctx, pipeline::Chain& chain, const std::string& path);

  ProxyContext& ctx_;
  SessionStore& sessions_;
  OidcLogin* oidc_;
  std::shared_ptr<ApprovalEventStream> events_;
  std::shared_ptr<AuditExportStream> audit_export_;
};

// The headers every /ui answer carries.
const HeaderList& security_headers();

}  // namespace sluice::gateway::ui
