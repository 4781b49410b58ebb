// The reviewer UI's login through an OIDC issuer: the authorization-code flow with PKCE (RFC 7636,
// S256) and a nonce, for the issuers under auth.oidc that name a client_id.
//   start:  a flow row in PostgreSQL (ui_login_flows: the state's SHA-256, the PKCE verifier, the
//           nonce, where to return), so the callback may land on any replica; the browser gets
//           the issuer's authorization URL and a cookie holding the state, which binds the flow
//           to this browser (an attacker's code cannot be fed to a victim's browser).
//   finish: the flow row taken (once), the code exchanged at the token endpoint with the
//           verifier, the ID token handed back. The caller authenticates it with the same
//           authenticators as an API call (same claims, prefixes, groups) and then checks what
//           only a login has: the nonce, and that the token was issued to this client.
// HTTP to the issuer runs on a small queue of its own threads (blocking libcurl).
#pragma once
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/worker.h"
#include "gateway/store/database.h"

namespace sluice::gateway::ui {

struct OidcClient {
  std::string issuer, client_id, client_secret, ca_file, display_name;
  std::vector<std::string> scopes;
};

class OidcLogin {
 public:
  OidcLogin(store::Database& database, std::vector<OidcClient> clients);
  // <public_url>/ui/callback: set once the listener knows its port, before serving.
  void set_redirect_uri(std::string uri) { redirect_uri_ = std::move(uri); }
  const std::string& redirect_uri() const { return redirect_uri_; }
  // [{"id": 0, "name": "..."}]: what the login page offers.
  nlohmann::json providers() const;
  std::size_t size() const { return clients_.size(); }

  struct Started {
    std::string authorize_url, state;
  };
  // Callbacks run on a database or HTTP thread.
  void start(std::size_t provider, std::string return_to, std::function<void(common::Result<Started>)> done);

  struct Finished {
    std::size_t provider = 0;
    std::string id_token, nonce, return_to;
  };
  void finish(const std::string& state, const std::string& code, std::function<void(common::Result<Finished>)> done);

  // After the authenticators accepted `id_token`: "" when the token belongs to this login (its
  // nonce, its issuer, its audience holds the client id), else why not.
  std::string check_id_token(const Finished& flow) const;

  static constexpr long kFlowSeconds = 600;  // a login not finished within 10 minutes starts again

 private:
  struct Endpoints {
    std::string authorization, token;
  };
  common::Result<Endpoints> endpoints(std::size_t provider);  // discovery, cached; HTTP thread only

  store::Database& database_;
  const std::vector<OidcClient> clients_;
  std::string redirect_uri_;
  std::mutex mu_;
  std::vector<std::optional<Endpoints>> endpoints_;  // guarded by mu_
  common::WorkQueue http_{"sluice-ui-oidc", 2, 64};  // last: joins before the rest goes
};

// A return path after login: a page of the UI ("/ui/..."), nothing that leaves it.
bool is_safe_return_path(const std::string& path);

}  // namespace sluice::gateway::ui
