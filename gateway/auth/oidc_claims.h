// From a verified token's claims to an identity, under one issuer's rules — the API server's
// --oidc-* flags / structured authentication configuration: issuer, audiences, username and
// groups claims with prefixes, required claims, a small clock skew. Pure code.
#pragma once
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/auth/identity.h"

namespace sluice::gateway::oidc {

struct ClaimRules {
  std::string issuer;                   // must equal "iss" exactly
  std::vector<std::string> audiences;   // "aud" must hold at least one of them
  std::string username_claim = "sub";
  std::string username_prefix;          // e.g. "oidc:"; the API server's default for non-email claims is "<issuer>#"
  std::string groups_claim;             // "" = no groups from the token
  std::string groups_prefix;
  std::string uid_claim;                // "" = no uid
  std::map<std::string, std::string> required_claims;  // e.g. {"repository": "acme/deploy"}
  std::chrono::seconds clock_skew{60};
};

// The caller, or nullopt with `error` saying which rule failed (for the log; no token content
// beyond claim names and the issuer).
std::optional<Identity> identity_from_claims(const nlohmann::json& claims, const ClaimRules& rules,
                                             std::chrono::system_clock::time_point now, std::string& error);

}  // namespace sluice::gateway::oidc
