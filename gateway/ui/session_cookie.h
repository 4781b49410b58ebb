// The reviewer UI's session cookie and CSRF check: pure functions, so the rules are tested alone.
// The cookie is `sluice_ui=<64 hex>; Path=/ui; HttpOnly; Secure; SameSite=Strict`; a request that
// changes state also sends the session's CSRF token in X-CSRF-Token (the page reads it from
// /ui/api/session), which a cross-site page can neither read nor guess.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sluice::gateway::ui {

inline constexpr const char* kCookieName = "sluice_ui";
inline constexpr const char* kLoginCookieName = "sluice_ui_login";
inline constexpr const char* kCsrfHeader = "X-CSRF-Token";

// A fresh random session id and CSRF token (32 bytes each, hex).
std::string new_secret();
// Set-Cookie for a session that lasts `max_age_seconds`; 0 clears the cookie.
std::string set_cookie_header(const std::string& value, long max_age_seconds);
// Set-Cookie for an OIDC login in flight (its state), sent only to /ui/callback; 0 clears it.
std::string set_login_cookie_header(const std::string& state, long max_age_seconds);
// The session id from a Cookie header; nullopt when absent, repeated or not 64 lowercase hex digits.
std::optional<std::string> session_from_cookie_header(std::string_view cookie_header);
// The same rules for any of the UI's cookies (the session's, the login's).
std::optional<std::string> cookie_from_header(std::string_view cookie_header, std::string_view name);
// GET and HEAD change nothing; every other method needs `sent` to equal the session's token
// (compared in constant time).
bool csrf_allows(std::string_view method, std::string_view sent, std::string_view session_token);

}  // namespace sluice::gateway::ui
