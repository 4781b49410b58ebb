#include "gateway/ui/session_cookie.h"

#include "common/token_compare.h"

namespace sluice::gateway::ui {
namespace {
bool is_session_id(std::string_view v) {
  if (v.size() != 64) return false;
  for (char c : v)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string new_secret() { return common::random_token_hex(32); }

std::string set_cookie_header(const std::string& value, long max_age_seconds) {
  return std::string(kCookieName) + "=" + (max_age_seconds > 0 ? value : "") + "; Path=/ui; Max-Age=" +
         std::to_string(max_age_seconds > 0 ? max_age_seconds : 0) + "; HttpOnly; Secure; SameSite=Strict";
}

std::string set_login_cookie_header(const std::string& state, long max_age_seconds) {
  // Lax, not Strict: it must come along on the identity provider's redirect back, a cross-site
  // top-level GET. It names a login in flight only, and only /ui/callback ever sees it.
  return std::string(kLoginCookieName) + "=" + (max_age_seconds > 0 ? state : "") + "; Path=/ui/callback; Max-Age=" +
         std::to_string(max_age_seconds > 0 ? max_age_seconds : 0) + "; HttpOnly; Secure; SameSite=Lax";
}

std::optional<std::string> session_from_cookie_header(std::string_view header) {
  return cookie_from_header(header, kCookieName);
}

std::optional<std::string> cookie_from_header(std::string_view header, std::string_view name) {
  std::optional<std::string> found;
  while (!header.empty()) {
    const auto semi = header.find(';');
    const std::string_view pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
    // Two cookies of our name (one planted by a sibling domain): trust neither.
    if (found) return std::nullopt;
    const std::string_view value = trim(pair.substr(eq + 1));
    if (!is_session_id(value)) return std::nullopt;
    found = std::string(value);
  }
  return found;
}

bool csrf_allows(std::string_view method, std::string_view sent, std::string_view session_token) {
  if (method == "GET" || method == "HEAD") return true;
  return !sent.empty() && !session_token.empty() && common::constant_time_equals(sent, session_token);
}

}  // namespace sluice::gateway::ui
