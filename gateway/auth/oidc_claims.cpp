#include "gateway/auth/oidc_claims.h"

#include <algorithm>

namespace sluice::gateway::oidc {
namespace {

std::optional<double> numeric_date(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

std::optional<Identity> identity_from_claims(const nlohmann::json& claims, const ClaimRules& rules,
                                             std::chrono::system_clock::time_point now, std::string& error) {
  const auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != rules.issuer) {
    error = "wrong issuer (expected " + rules.issuer + ")";
    return std::nullopt;
  }
  bool audience_ok = false;
  if (auto aud = claims.find("aud"); aud != claims.end()) {
    auto accepted = [&](const nlohmann::json& a) {
      return a.is_string() &&
             std::find(rules.audiences.begin(), rules.audiences.end(), a.get<std::string>()) != rules.audiences.end();
    };
    if (aud->is_array()) audience_ok = std::any_of(aud->begin(), aud->end(), accepted);
    else audience_ok = accepted(*aud);
  }
  if (!audience_ok) {
    error = "wrong audience";
    return std::nullopt;
  }
  const double t = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double skew = static_cast<double>(rules.clock_skew.count());
  auto exp = numeric_date(claims, "exp");
  if (!exp) {
    error = "the token has no expiry (exp)";
    return std::nullopt;
  }
  if (t > *exp + skew) {
    error = "token expired";
    return std::nullopt;
  }
  if (auto nbf = numeric_date(claims, "nbf"); nbf && t + skew < *nbf) {
    error = "token not yet valid (nbf)";
    return std::nullopt;
  }
  if (auto iat = numeric_date(claims, "iat"); iat && t + skew < *iat) {
    error = "token issued in the future (iat)";
    return std::nullopt;
  }
  for (const auto& [name, value] : rules.required_claims) {
    auto c = claims.find(name);
    if (c == claims.end() || !c->is_string() || c->get<std::string>() != value) {
      error = "required claim \"" + name + "\" is missing or has another value";
      return std::nullopt;
    }
  }
  auto user = claims.find(rules.username_claim);
  if (user == claims.end() || !user->is_string() || user->get<std::string>().empty()) {
    error = "username claim \"" + rules.username_claim + "\" is missing or not a string";
    return std::nullopt;
  }
  if (rules.username_claim == "email") {
    // As the API server: an email that the issuer says is not verified names nobody.
    if (auto v = claims.find("email_verified"); v != claims.end() && !(v->is_boolean() && v->get<bool>())) {
      error = "email not verified (email_verified is not true)";
      return std::nullopt;
    }
  }
  Identity who;
  who.method = "oidc";
  who.user = rules.username_prefix + user->get<std::string>();
  if (!rules.groups_claim.empty()) {
    if (auto g = claims.find(rules.groups_claim); g != claims.end()) {
      if (g->is_string()) {
        who.groups.push_back(rules.groups_prefix + g->get<std::string>());
      } else if (g->is_array()) {
        for (const auto& item : *g) {
          if (!item.is_string()) {
            error = "groups claim \"" + rules.groups_claim + "\" holds a non-string";
            return std::nullopt;
          }
          who.groups.push_back(rules.groups_prefix + item.get<std::string>());
        }
      } else {
        error = "groups claim \"" + rules.groups_claim + "\" is neither a string nor an array";
        return std::nullopt;
      }
    }
  }
  if (!rules.uid_claim.empty())
    if (auto u = claims.find(rules.uid_claim); u != claims.end() && u->is_string()) who.uid = u->get<std::string>();
  who.extra["sluice.dev/oidc-issuer"] = {rules.issuer};
  if (auto sub = claims.find("sub"); sub != claims.end() && sub->is_string())
    who.extra["sluice.dev/oidc-subject"] = {sub->get<std::string>()};
  return who;
}

}  // namespace sluice::gateway::oidc
