// The client side of OpenID Connect that the gateway's three users share: the authenticator
// (keys), the reviewer UI's login and `sluice-gateway login`. Discovery, PKCE's S256 challenge and
// the token endpoint with client_secret_basic. Blocking (https_fetch.h): never on an Asio thread.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::gateway::oidc {

struct ProviderEndpoints {
  std::string jwks, authorization, token, device;  // "" when the provider names none
};

// The issuer's /.well-known/openid-configuration. nullopt with `error` when it cannot be read,
// names another issuer (Discovery 1.0, 4.3) or no jwks_uri.
std::optional<ProviderEndpoints> discover(const std::string& issuer, const std::string& ca_file, std::string& error);

// RFC 7636's code_challenge for `verifier` (S256: base64url of its SHA-256, no padding).
std::string pkce_s256(const std::string& verifier);

struct TokenAnswer {
  long status = 0;
  nlohmann::json body;  // the answer's JSON object ({} when it was none)
};
// A POST of `form` to the token endpoint for `client_id`: the id in the form, and with a secret
// client_secret_basic too (RFC 6749 2.3.1). nullopt with `error` when no answer came.
std::optional<TokenAnswer> token_request(const std::string& token_endpoint,
                                         std::vector<std::pair<std::string, std::string>> form,
                                         const std::string& client_id, const std::string& client_secret,
                                         const std::string& ca_file, std::string& error);

}  // namespace sluice::gateway::oidc
