#include "gateway/ui/oidc_login.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "common/request_info.h"
#include "common/token_compare.h"
#include "gateway/auth/jwt.h"
#include "gateway/auth/oauth_client.h"

namespace sluice::gateway::ui {

bool is_safe_return_path(const std::string& path) {
  if (path.rfind("/ui/", 0) != 0 || path.size() > 512) return false;
  for (unsigned char c : path)
    if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '"' || c == '<' || c == '>') return false;
  return path.find("/..") == std::string::npos && path.find("//") == std::string::npos;
}

OidcLogin::OidcLogin(store::Database& database, std::vector<OidcClient> clients)
    : database_(database), clients_(std::move(clients)), endpoints_(clients_.size()) {}

nlohmann::json OidcLogin::providers() const {
  auto list = nlohmann::json::array();
  for (std::size_t i = 0; i < clients_.size(); ++i)
    list.push_back({{"id", i}, {"name", clients_[i].display_name.empty() ? clients_[i].issuer : clients_[i].display_name}});
  return list;
}

common::Result<OidcLogin::Endpoints> OidcLogin::endpoints(std::size_t provider) {
  {
    std::lock_guard lock(mu_);
    if (endpoints_[provider]) return *endpoints_[provider];
  }
  const OidcClient& c = clients_[provider];
  std::string error;
  auto found = oidc::discover(c.issuer, c.ca_file, error);
  if (!found) return common::Error{503, "the identity provider cannot be reached: " + error};
  Endpoints e{found->authorization, found->token};
  if (e.authorization.rfind("https://", 0) != 0 || e.token.rfind("https://", 0) != 0)
    return common::Error{503, "the identity provider names no https authorization and token endpoints"};
  std::lock_guard lock(mu_);
  endpoints_[provider] = e;
  return e;
}

void OidcLogin::start(std::size_t provider, std::string return_to, std::function<void(common::Result<Started>)> done) {
  if (provider >= clients_.size()) return done(common::Error{404, "no such identity provider"});
  auto answer = std::make_shared<std::function<void(common::Result<Started>)>>(std::move(done));
  const bool taken = http_.post([this, provider, return_to = std::move(return_to), answer](unsigned) {
    auto e = endpoints(provider);
    if (!e) return (*answer)(e.error());
    const OidcClient& c = clients_[provider];
    const std::string state = common::random_token_hex(32), verifier = common::random_token_hex(32),
                      nonce = common::random_token_hex(16);
    std::string scope;
    for (const auto& s : c.scopes) scope += (scope.empty() ? "" : " ") + s;
    const std::string url = e->authorization + (e->authorization.find('?') == std::string::npos ? "?" : "&") +
                            "response_type=code&client_id=" + common::percent_encode(c.client_id) +
                            "&redirect_uri=" + common::percent_encode(redirect_uri_) + "&scope=" + common::percent_encode(scope) +
                            "&state=" + state + "&nonce=" + nonce + "&code_challenge=" + oidc::pkce_s256(verifier) +
                            "&code_challenge_method=S256";
    database_.run(
        [=, issuer = c.issuer](pqxx::connection& conn) -> common::Done {
          pqxx::work tx(conn);
          tx.exec_params0(
              "INSERT INTO ui_login_flows (state_hash, issuer, verifier, nonce, return_to, expires_at) "
              "VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
              common::sha256_hex(state), issuer, verifier, nonce, return_to, kFlowSeconds);
          tx.exec0("DELETE FROM ui_login_flows WHERE expires_at < now()");  // abandoned logins
          tx.commit();
          return {};
        },
        std::function<void(common::Result<common::Done>)>([answer, url, state](common::Result<common::Done> stored) {
          if (!stored) return (*answer)(stored.error());
          (*answer)(Started{url, state});
        }));
  });
  if (!taken) (*answer)(common::Error{503, "too many logins at once: try again"});
}

void OidcLogin::finish(const std::string& state, const std::string& code,
                       std::function<void(common::Result<Finished>)> done) {
  struct Flow {
    std::string issuer, verifier, nonce, return_to;
  };
  auto answer = std::make_shared<std::function<void(common::Result<Finished>)>>(std::move(done));
  database_.run(
      // Taken once: a replayed callback finds nothing.
      [hash = common::sha256_hex(state)](pqxx::connection& conn) -> std::optional<Flow> {
        pqxx::work tx(conn);
        auto r = tx.exec_params(
            "DELETE FROM ui_login_flows WHERE state_hash = $1 RETURNING issuer, verifier, nonce, return_to, "
            "expires_at > now()",
            hash);
        tx.commit();
        if (r.empty() || !r[0][4].as<bool>()) return std::nullopt;
        return Flow{r[0][0].c_str(), r[0][1].c_str(), r[0][2].c_str(), r[0][3].c_str()};
      },
      std::function<void(common::Result<std::optional<Flow>>)>(
          [this, code, answer](common::Result<std::optional<Flow>> taken) {
            if (!taken) return (*answer)(taken.error());
            if (!*taken) return (*answer)(common::Error{400, "this login expired or was already used: log in again"});
            const Flow flow = **taken;
            std::size_t provider = clients_.size();
            for (std::size_t i = 0; i < clients_.size(); ++i)
              if (clients_[i].issuer == flow.issuer) provider = i;
            if (provider == clients_.size())
              return (*answer)(common::Error{400, "the login's identity provider is no longer configured"});
            const bool posted = http_.post([this, provider, flow, code, answer](unsigned) {
              auto e = endpoints(provider);
              if (!e) return (*answer)(e.error());
              const OidcClient& c = clients_[provider];
              std::string error;
              auto reply = oidc::token_request(e->token, {{"grant_type", "authorization_code"}, {"code", code},
                                                          {"redirect_uri", redirect_uri_}, {"code_verifier", flow.verifier}},
                                               c.client_id, c.client_secret, c.ca_file, error);
              if (!reply) return (*answer)(common::Error{503, "the identity provider cannot be reached: " + error});
              const auto& body = reply->body;
              if (reply->status != 200) {
                const std::string why = body.value("error", "");
                spdlog::warn("ui: the token endpoint of {} answered {} {}", c.issuer, reply->status, why);
                return (*answer)(common::Error{401, "the identity provider refused the login (" +
                                                        (why.empty() ? "HTTP " + std::to_string(reply->status) : why) + ")"});
              }
              if (!body.contains("id_token") || !body["id_token"].is_string())
                return (*answer)(common::Error{502, "the identity provider's answer holds no ID token"});
              (*answer)(Finished{provider, body["id_token"].get<std::string>(), flow.nonce, flow.return_to});
            });
            if (!posted) (*answer)(common::Error{503, "too many logins at once: try again"});
          }));
}

std::string OidcLogin::check_id_token(const Finished& flow) const {
  const OidcClient& c = clients_[flow.provider];
  const auto claims = jwt::unverified_claims(flow.id_token);  // verified by the authenticators already
  if (!claims.is_object()) return "the ID token is unreadable";
  if (claims.value("iss", "") != c.issuer) return "the ID token comes from another issuer";
  const auto& aud = claims.contains("aud") ? claims["aud"] : nlohmann::json();
  const bool ours = aud.is_string() ? aud == c.client_id
                                    : aud.is_array() && std::find(aud.begin(), aud.end(), c.client_id) != aud.end();
  if (!ours) return "the ID token was not issued to this client";
  // With several audiences, the authorized party must be this client (OpenID Connect Core 3.1.3.7).
  if (aud.is_array() && aud.size() > 1 && claims.value("azp", "") != c.client_id)
    return "the ID token names another authorized party";
  const auto nonce = claims.contains("nonce") && claims["nonce"].is_string() ? claims["nonce"].get<std::string>() : "";
  if (!common::constant_time_equals(nonce, flow.nonce)) return "the ID token's nonce is not this login's";
  return "";
}

}  // namespace sluice::gateway::ui
