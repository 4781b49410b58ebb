#include "gateway/auth/oauth_client.h"

#include <openssl/sha.h>

#include "common/base64.h"
#include "common/request_info.h"
#include "gateway/auth/https_fetch.h"

namespace sluice::gateway::oidc {

std::optional<ProviderEndpoints> discover(const std::string& issuer, const std::string& ca_file, std::string& error) {
  std::string base = issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto text = https_get(base + "/.well-known/openid-configuration", ca_file, error);
  if (!text) return std::nullopt;
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("jwks_uri") || !doc["jwks_uri"].is_string()) {
    error = "the discovery document has no jwks_uri";
    return std::nullopt;
  }
  if (doc.value("issuer", "") != issuer) {
    error = "the discovery document names another issuer (\"" + doc.value("issuer", "") + "\")";
    return std::nullopt;
  }
  auto text_of = [&](const char* key) { return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : ""; };
  return ProviderEndpoints{text_of("jwks_uri"), text_of("authorization_endpoint"), text_of("token_endpoint"),
                           text_of("device_authorization_endpoint")};
}

std::string pkce_s256(const std::string& verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return common::base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::optional<TokenAnswer> token_request(const std::string& token_endpoint,
                                         std::vector<std::pair<std::string, std::string>> form,
                                         const std::string& client_id, const std::string& client_secret,
                                         const std::string& ca_file, std::string& error) {
  form.emplace_back("client_id", client_id);
  std::vector<std::string> headers;
  if (!client_secret.empty())  // the id and the secret form-encoded, then base64
    headers.push_back("Authorization: Basic " + common::base64_encode(common::percent_encode(client_id) + ":" +
                                                                      common::percent_encode(client_secret)));
  auto answer = https_post_form(token_endpoint, form, headers, ca_file, error);
  if (!answer) return std::nullopt;
  auto body = nlohmann::json::parse(answer->body, nullptr, false);
  return TokenAnswer{answer->status, body.is_object() ? body : nlohmann::json::object()};
}

}  // namespace sluice::gateway::oidc
