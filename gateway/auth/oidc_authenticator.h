// OIDC bearer tokens from configured issuers (Okta, Entra ID, Google, Keycloak, Dex, GitHub
// Actions...). The token's unverified "iss" only selects which issuer's keys and rules apply;
// everything else is checked against them. Keys come from the issuer's discovery document and
// JWKS, fetched with libcurl (TLS verified, timeouts, size limit) on the authenticator's own
// thread, cached, and fetched again when a token names an unknown key — at most once per
// min_refresh interval, so a flood of made-up kids cannot hammer the issuer. An unreachable issuer
// does not affect tokens whose key is cached.
#pragma once
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/worker.h"
#include "gateway/auth/authenticator.h"
#include "gateway/auth/identity.h"
#include "gateway/auth/jwt.h"
#include "gateway/auth/oidc_claims.h"

namespace sluice::gateway::oidc {

struct IssuerConfig {
  ClaimRules rules;
  std::string ca_file;  // "" = the system's CAs
  std::chrono::seconds min_refresh{10};
  std::chrono::seconds refresh_every{3600};
};

class OidcAuthenticator : public Authenticator {
 public:

  explicit OidcAuthenticator(std::vector<IssuerConfig> issuers);
  ~OidcAuthenticator();
  OidcAuthenticator(const OidcAuthenticator&) = delete;
  OidcAuthenticator& operator=(const OidcAuthenticator&) = delete;

  std::string_view name() const override { return "oidc"; }
  // Whether the bearer token is a JWT naming one of the configured issuers (cheap, unverified).
  bool applies(const Credentials& credentials) const override;
  // Calls `done` once: at once when the cached keys decide, else from the fetch thread after a
  // refresh. Post to your own executor inside `done`.
  void authenticate(const Credentials& credentials, Done done) override;

 private:
  struct Issuer {
    IssuerConfig config;
    std::shared_ptr<const std::vector<jwt::PublicKey>> keys;  // guarded by mu_
    std::chrono::steady_clock::time_point last_fetch_attempt{};
    bool fetch_queued = false;
    std::vector<std::pair<std::string, Done>> waiting;  // tokens waiting for this fetch
  };
  Issuer* find_issuer(const std::string& token) const;
  // Claims and identity from a signature check already made (each token is verified once per key set).
  void decide(Issuer& issuer, jwt::VerifyResult result, Done& done, bool after_refresh);
  std::chrono::milliseconds tick();  // the fetcher's: queued and due fetches, then the pause to the next due
  std::optional<std::vector<jwt::PublicKey>> fetch_keys(const IssuerConfig& config, std::string& error);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Issuer>> issuers_;
  std::deque<Issuer*> fetch_queue_;
  common::Ticker fetcher_{"sluice-oidc"};  // last: stops before the rest goes
};

}  // namespace sluice::gateway::oidc
