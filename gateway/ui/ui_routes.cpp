#include "gateway/ui/ui_routes.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "common/request_info.h"
#include "common/token_compare.h"
#include "gateway/server/approvals_api.h"
#include "gateway/ui/session_cookie.h"
#include "gateway/ui/ui_assets.h"

namespace sluice::gateway::ui {
namespace {
constexpr std::string_view kApi = "/ui/api/";

HeaderList with(HeaderList extra) {
  HeaderList all = security_headers();
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

void fail(pipeline::Chain& chain, int code, const std::string& message, const std::string& reason, HeaderList extra = {}) {
  chain.send_local_reply(code, message, reason, with(std::move(extra)));
}

void reply_json(pipeline::Chain& chain, int code, const nlohmann::json& body, HeaderList extra = {}) {
  chain.send_reply(code, "application/json", body.dump(), with(std::move(extra)));
}

nlohmann::json session_json(const Session& s) {
  return {{"user", s.who.user}, {"uid", s.who.uid}, {"groups", s.who.groups}, {"method", s.who.method},
          {"csrfToken", s.csrf_token}, {"expiresAt", s.expires_at}};
}

// A login form posted from another site would set the victim's browser to the attacker's
// session: logins come as JSON (a cross-site form cannot send that without a CORS preflight,
// which the gateway never grants) and, when the browser names an Origin, from this one.
bool same_origin_json(const pipeline::RequestContext& ctx) {
  const std::string type = ctx.header("Content-Type");
  if (type.rfind("application/json", 0) != 0) return false;
  const std::string origin = ctx.header("Origin");
  return origin.empty() || origin == "https://" + ctx.header("Host");
}
}  // namespace

const HeaderList& security_headers() {
  // 'wasm-unsafe-eval' lets the page compile WebAssembly (asciinema-player's terminal emulator);
  // it allows no JavaScript from strings ('unsafe-eval' stays off) and no inline script.
  static const HeaderList h = {
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
      {"X-Frame-Options", "DENY"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-store"},
  };
  return h;
}

pipeline::Next UiRoutesStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (!ctx.sni_cluster.empty()) return pipeline::Next::Continue;  // the cluster's paths, not the gateway's
  // Every request passes here: the common case costs one prefix comparison, no allocation.
  if (ctx.target.compare(0, 3, "/ui") != 0) return pipeline::Next::Continue;
  const std::string path = ctx.target.substr(0, ctx.target.find('?'));
  if (path != "/ui" && path.rfind("/ui/", 0) != 0) return pipeline::Next::Continue;
  if (path.rfind(kApi, 0) == 0) {
    if (path == "/ui/api/login/options") {
      if (ctx.method != "GET") fail(chain, 405, "read the login options with GET", "MethodNotAllowed");
      else reply_json(chain, 200, {{"oidc", oidc_ ? oidc_->providers() : nlohmann::json::array()}});
    } else if (path == "/ui/api/login") {
      if (ctx.method != "POST") fail(chain, 405, "log in with POST /ui/api/login", "MethodNotAllowed");
      else login(ctx, chain);
    } else {
      with_session(ctx, chain, path);
    }
    return pipeline::Next::Stop;
  }
  if (ctx.method != "GET" && ctx.method != "HEAD") {
    fail(chain, 405, "the UI's pages are read with GET", "MethodNotAllowed");
    return pipeline::Next::Stop;
  }
  if (path == "/ui") {
    chain.send_reply(302, "text/plain", "", with({{"Location", "/ui/"}}));
    return pipeline::Next::Stop;
  }
  if (path == "/ui/login/oidc" || path == "/ui/callback") {
    if (!oidc_) fail(chain, 404, "this gateway has no OIDC login: give an auth.oidc issuer a client_id", "NotFound");
    else if (path == "/ui/callback") finish_oidc(ctx, chain);
    else start_oidc(ctx, chain);
    return pipeline::Next::Stop;
  }
  std::string file = path.substr(4);
  // A page of the app (/ui/approvals/ID, a link from Slack or email) is its one HTML document.
  const Asset* asset = find_asset(file.empty() ? "index.html" : file);
  if (!asset && file.find('.') == std::string::npos) asset = find_asset("index.html");
  if (!asset) fail(chain, 404, "the UI has no file " + path, "NotFound");
  else chain.send_reply(200, std::string(asset->content_type), std::string(asset->body), security_headers());
  return pipeline::Next::Stop;
}

void UiRoutesStage::login(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (!same_origin_json(ctx))
    return fail(chain, 403, "log in from the UI's own page: a JSON body from this origin", "Forbidden");
  auto body = nlohmann::json::parse(ctx.body.empty() ? "{}" : ctx.body, nullptr, false);
  if (!body.is_object() || (body.contains("token") && !body["token"].is_string()))
    return fail(chain, 400, "the login body is {\"token\": \"...\"}, or {} to log in with the TLS client certificate",
                "BadRequest");
  Credentials credentials;
  credentials.bearer_token = body.value("token", "");
  credentials.tls = ctx.tls;
  ctx_.auth.authenticate(std::move(credentials), chain.on_strand([this, &chain](std::optional<Identity> who, std::string why) {
    auto& c = chain.context();
    if (!who) {
      spdlog::info("401 UI login from {}: {}", c.remote, why);
      return fail(chain, 401, "the token or certificate was not accepted", "Unauthorized");
    }
    open_session(chain, *who, [this, &chain](const std::string& cookie, const Session& s) {
      reply_json(chain, 200, session_json(s), {{"Set-Cookie", set_cookie_header(cookie, sessions_.ttl_seconds())}});
    });
  }));
}

void UiRoutesStage::open_session(pipeline::Chain& chain, const Identity& who,
                                 std::function<void(const std::string&, const Session&)> then) {
  spdlog::info("UI login: {} ({}) from {}", who.user, who.method, chain.context().remote);
  sessions_.create(who, chain.on_strand([&chain, then = std::move(then)](common::Result<SessionStore::Created> made) {
    if (!made) return fail(chain, made.error().code, "no session: " + made.error().message, "ServiceUnavailable");
    then(made->first, made->second);
  }));
}

namespace {
// The callback is a page the browser shows: its failures are a sentence, not a Status object.
void fail_page(pipeline::Chain& chain, int code, const std::string& sentence, HeaderList extra = {}) {
  chain.send_reply(code, "text/plain; charset=utf-8", "Login failed: " + sentence + "\nStart again at /ui/\n",
                   with(std::move(extra)));
}

std::string query_of(const pipeline::RequestContext& ctx, std::string_view key) {
  const auto q = ctx.target.find('?');
  if (q == std::string::npos) return "";
  return common::query_value(common::decode_query(std::string_view(ctx.target).substr(q + 1)).params, key).value_or("");
}
}  // namespace

void UiRoutesStage::start_oidc(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (ctx.method != "GET") return fail(chain, 405, "start a login with GET", "MethodNotAllowed");
  const std::string provider = query_of(ctx, "provider");
  std::string return_to = query_of(ctx, "return");
  if (return_to.empty()) return_to = "/ui/";
  if (!is_safe_return_path(return_to)) return fail_page(chain, 400, "the return address must be a page under /ui/.");
  std::size_t index = oidc_->size();
  if (auto [end, ec] = std::from_chars(provider.data(), provider.data() + provider.size(), index);
      ec != std::errc() || end != provider.data() + provider.size())
    index = oidc_->size();
  if (index >= oidc_->size()) return fail_page(chain, 404, "no identity provider " + provider + " is configured.");
  oidc_->start(index, return_to, chain.on_strand([&chain](common::Result<OidcLogin::Started> started) {
    if (!started) return fail_page(chain, started.error().code, started.error().message);
    chain.send_reply(302, "text/plain", "",
                     with({{"Location", started->authorize_url},
                           {"Set-Cookie", set_login_cookie_header(started->state, OidcLogin::kFlowSeconds)}}));
  }));
}

void UiRoutesStage::finish_oidc(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  if (ctx.method != "GET") return fail(chain, 405, "the identity provider returns with GET", "MethodNotAllowed");
  const HeaderList clear = {{"Set-Cookie", set_login_cookie_header("", 0)}};
  if (const std::string error = query_of(ctx, "error"); !error.empty()) {
    // The provider's own words are the attacker's to choose: logged, shown as plain text only.
    const std::string description = query_of(ctx, "error_description").substr(0, 200);
    spdlog::info("UI OIDC login from {} refused by the identity provider: {}", ctx.remote, error);
    return fail_page(chain, 401, "the identity provider said " + error.substr(0, 64) +
                                     (description.empty() ? "." : ": " + description), clear);
  }
  const std::string state = query_of(ctx, "state"), code = query_of(ctx, "code");
  const auto bound = cookie_from_header(ctx.header("Cookie"), kLoginCookieName);
  if (state.empty() || code.empty()) return fail_page(chain, 400, "the callback carries no code and state.", clear);
  // The state must be the one this browser was sent off with: a callback carrying someone
  // else's code (login CSRF) has no such cookie.
  if (!bound || !common::constant_time_equals(*bound, state)) {
    spdlog::warn("403 UI OIDC callback from {}: its state is not this browser's login", ctx.remote);
    return fail_page(chain, 403, "this browser did not start this login.", clear);
  }
  oidc_->finish(state, code, chain.on_strand([this, &chain, clear](common::Result<OidcLogin::Finished> finished) {
    if (!finished) return fail_page(chain, finished.error().code, finished.error().message, clear);
    Credentials credentials;
    credentials.bearer_token = finished->id_token;
    // The same authenticators as an API call: the same claims, prefixes and groups.
    auto flow = std::make_shared<OidcLogin::Finished>(std::move(finished).value());
    ctx_.auth.authenticate(std::move(credentials), chain.on_strand([this, &chain, clear, flow](std::optional<Identity> who,
                                                                                                std::string why) {
      std::string problem = !who ? why : who->method != "oidc" ? "not an OIDC identity" : oidc_->check_id_token(*flow);
      if (!problem.empty()) {
        spdlog::warn("401 UI OIDC login from {}: {}", chain.context().remote, problem);
        return fail_page(chain, 401, "the identity provider's token was not accepted.", clear);
      }
      open_session(chain, *who, [this, &chain, flow](const std::string& cookie, const Session&) {
        chain.send_reply(302, "text/plain", "",
                         with({{"Location", flow->return_to},
                               {"Set-Cookie", set_cookie_header(cookie, sessions_.ttl_seconds())},
                               {"Set-Cookie", set_login_cookie_header("", 0)}}));
      });
    }));
  }));
}

void UiRoutesStage::with_session(pipeline::RequestContext& ctx, pipeline::Chain& chain, const std::string& path) {
  const auto cookie = session_from_cookie_header(ctx.header("Cookie"));
  if (!cookie) return fail(chain, 401, "not logged in: log in at /ui/", "Unauthorized");
  sessions_.find(*cookie, chain.on_strand([this, &chain, path, cookie = *cookie](common::Result<std::optional<Session>> found) {
    auto& c = chain.context();
    if (!found) return fail(chain, found.error().code, "sessions unavailable: " + found.error().message, "ServiceUnavailable");
    if (!*found)
      return fail(chain, 401, "the session ended or expired: log in at /ui/", "Unauthorized",
                  {{"Set-Cookie", set_cookie_header("", 0)}});
    const Session& s = **found;
    if (!csrf_allows(c.method, c.header(kCsrfHeader), s.csrf_token)) {
      spdlog::warn("403 UI {} {} for {}: missing or wrong CSRF token", c.method, path, s.who.user);
      return fail(chain, 403, "the request's CSRF token is missing or wrong: reload the page", "Forbidden");
    }
    if (path == "/ui/api/session") {
      if (c.method != "GET") return fail(chain, 405, "read the session with GET", "MethodNotAllowed");
      return reply_json(chain, 200, session_json(s));
    }
    if (path == "/ui/api/logout") {
      if (c.method != "POST") return fail(chain, 405, "log out with POST", "MethodNotAllowed");
      return sessions_.end(cookie, chain.on_strand([&chain](common::Result<common::Done> ended) {
        if (!ended) return fail(chain, ended.error().code, "the session could not be ended: " + ended.error().message,
                                "ServiceUnavailable");
        reply_json(chain, 200, {{"loggedOut", true}}, {{"Set-Cookie", set_cookie_header("", 0)}});
      }));
    }
    if (path == "/ui/api/approvals/events") {
      if (c.method != "GET") return fail(chain, 405, "follow approval changes with GET", "MethodNotAllowed");
      if (!ctx_.approvals) return fail(chain, 404, "this gateway has no approvals (it runs without a policy)", "NotFound");
      events_ = std::make_shared<ApprovalEventStream>(*ctx_.approvals, chain.shared_from_this());
      return events_->start();
    }
    const std::string rest = c.target.substr(kApi.size() - 1);  // "/approvals...", query included
    if (is_approvals_api_path("/api/v1" + rest)) {
      if (!ctx_.approvals) return fail(chain, 404, "this gateway has no approvals (it runs without a policy)", "NotFound");
      return serve_approvals_api(*ctx_.approvals, c.method, "/api/v1" + rest, c.body, s.who,
                                 ctx_.config.approvals.viewer_groups,
                                 chain.on_strand([&chain](int code, nlohmann::json body) { reply_json(chain, code, body); }));
    }
    if (is_sessions_api_path("/api/v1" + rest)) {
      if (!ctx_.sessions_api) return fail(chain, 404, "this gateway records nothing (recording.enabled: false)", "NotFound");
      return ctx_.sessions_api->serve(c.method, "/api/v1" + rest, s.who,
                                      chain.on_strand([&chain](int code, std::string type, std::string body) {
                                        chain.send_reply(code, type, std::move(body), security_headers());
                                      }));
    }
    if (is_audit_api_path("/api/v1" + rest) && ctx_.audit_api) {
      if (AuditApi::is_export("/api/v1" + rest)) {
        audit_export_ = ctx_.audit_api->export_to("/api/v1" + rest, s.who, security_headers(), chain);
        return;
      }
      return ctx_.audit_api->serve(c.method, "/api/v1" + rest, s.who,
                                   chain.on_strand([&chain](int code, std::string type, std::string body) {
                                     chain.send_reply(code, type, std::move(body), security_headers());
                                   }));
    }
    fail(chain, 404, "the UI has no API " + path, "NotFound");
  }));
}

}  // namespace sluice::gateway::ui
