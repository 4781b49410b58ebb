#include "gateway/auth/oidc_authenticator.h"

#include "common/base64.h"
#include "gateway/auth/https_fetch.h"
#include "gateway/auth/oauth_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

namespace sluice::gateway::oidc {
namespace {

// The unverified "iss" of a compact JWS, for choosing the issuer only.
std::optional<std::string> unverified_issuer(const std::string& token) {
  const auto claims = jwt::unverified_claims(token);
  if (!claims.is_object() || !claims.contains("iss") || !claims["iss"].is_string()) return std::nullopt;
  return claims["iss"].get<std::string>();
}

}  // namespace

OidcAuthenticator::OidcAuthenticator(std::vector<IssuerConfig> issuers) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (auto& config : issuers) {
    auto issuer = std::make_unique<Issuer>();
    issuer->config = std::move(config);
    issuer->keys = std::make_shared<const std::vector<jwt::PublicKey>>();
    issuer->fetch_queued = true;  // fetch every issuer's keys at start
    fetch_queue_.push_back(issuer.get());
    issuers_.push_back(std::move(issuer));
  }
  fetcher_.start([this] { return tick(); });
}

OidcAuthenticator::~OidcAuthenticator() {
  fetcher_.stop();
  for (auto& issuer : issuers_)
    for (auto& [token, done] : issuer->waiting) done(std::nullopt, "the gateway is stopping");
}

OidcAuthenticator::Issuer* OidcAuthenticator::find_issuer(const std::string& token) const {
  auto iss = unverified_issuer(token);
  if (!iss) return nullptr;
  for (const auto& issuer : issuers_)
    if (issuer->config.rules.issuer == *iss) return issuer.get();
  return nullptr;
}

bool OidcAuthenticator::applies(const Credentials& credentials) const {
  return !credentials.bearer_token.empty() && find_issuer(credentials.bearer_token) != nullptr;
}

void OidcAuthenticator::authenticate(const Credentials& credentials, Done done) {
  const std::string& token = credentials.bearer_token;
  Issuer* issuer = find_issuer(token);
  if (!issuer) return done(std::nullopt, "not a token of a configured OIDC issuer");
  std::shared_ptr<const std::vector<jwt::PublicKey>> keys;
  {
    std::lock_guard lock(mu_);
    keys = issuer->keys;
  }
  auto result = jwt::verify(token, *keys);
  if (result.unknown_key) {
    std::unique_lock lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (issuer->keys != keys) {  // a refresh finished meanwhile: decide with the new keys
      keys = issuer->keys;
      lock.unlock();
      return decide(*issuer, jwt::verify(token, *keys), done, true);
    }
    if (issuer->fetch_queued || now - issuer->last_fetch_attempt >= issuer->config.min_refresh) {
      issuer->waiting.emplace_back(token, std::move(done));
      if (!issuer->fetch_queued) {
        issuer->fetch_queued = true;
        fetch_queue_.push_back(issuer);
        lock.unlock();
        fetcher_.wake();
      }
      return;
    }
  }
  decide(*issuer, std::move(result), done, false);
}

void OidcAuthenticator::decide(Issuer& issuer, jwt::VerifyResult result, Done& done, bool after_refresh) {
  if (!result.token) {
    std::string why = result.error;
    if (result.unknown_key) why += after_refresh ? " (after fetching the issuer's keys)" : " (keys fetched recently)";
    return done(std::nullopt, why);
  }
  std::string error;
  auto who = identity_from_claims(result.token->claims, issuer.config.rules, std::chrono::system_clock::now(), error);
  if (!who) return done(std::nullopt, error);
  done(std::move(who), "");
}

std::chrono::milliseconds OidcAuthenticator::tick() {
  std::unique_lock lock(mu_);
  // Periodic refresh: every issuer whose keys are older than refresh_every.
  for (auto& issuer : issuers_) {
    if (issuer->last_fetch_attempt + issuer->config.refresh_every <= std::chrono::steady_clock::now() &&
        !issuer->fetch_queued) {
      issuer->fetch_queued = true;
      fetch_queue_.push_back(issuer.get());
    }
  }
  while (!fetch_queue_.empty()) {
    Issuer* issuer = fetch_queue_.front();
    fetch_queue_.pop_front();
    issuer->last_fetch_attempt = std::chrono::steady_clock::now();
    const IssuerConfig config = issuer->config;
    lock.unlock();
    std::string error;
    auto keys = fetch_keys(config, error);
    if (keys)
      spdlog::info("oidc: {} keys of {} fetched", keys->size(), config.rules.issuer);
    else
      spdlog::warn("oidc: cannot fetch the keys of {}: {} (cached keys stay in use)", config.rules.issuer, error);
    lock.lock();
    if (keys) issuer->keys = std::make_shared<const std::vector<jwt::PublicKey>>(std::move(*keys));
    issuer->fetch_queued = false;
    auto waiting = std::move(issuer->waiting);
    issuer->waiting.clear();
    auto current = issuer->keys;
    lock.unlock();
    for (auto& [token, done] : waiting) decide(*issuer, jwt::verify(token, *current), done, true);
    lock.lock();
  }
  const auto now = std::chrono::steady_clock::now();
  auto next_due = now + std::chrono::hours(24);
  for (auto& issuer : issuers_) next_due = std::min(next_due, issuer->last_fetch_attempt + issuer->config.refresh_every);
  return std::max<std::chrono::milliseconds>(std::chrono::duration_cast<std::chrono::milliseconds>(next_due - now),
                                             std::chrono::seconds(1));
}

std::optional<std::vector<jwt::PublicKey>> OidcAuthenticator::fetch_keys(const IssuerConfig& config,
                                                                          std::string& error) {
  auto endpoints = discover(config.rules.issuer, config.ca_file, error);
  if (!endpoints) return std::nullopt;
  auto jwks_text = https_get(endpoints->jwks, config.ca_file, error);
  if (!jwks_text) return std::nullopt;
  return jwt::parse_jwks(*jwks_text, error);
}

}  // namespace sluice::gateway::oidc
