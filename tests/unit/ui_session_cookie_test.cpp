// The reviewer UI's session cookie and CSRF rules (gateway/ui/session_cookie.h), and where an OIDC login may return (oidc_login.h).
#include <doctest/doctest.h>

#include "gateway/ui/oidc_login.h"
#include "gateway/ui/session_cookie.h"

using namespace sluice::gateway::ui;

TEST_CASE("ui cookie: a session cookie is HttpOnly, Secure, SameSite=Strict and scoped to /ui") {
  const std::string id = new_secret();
  CHECK(id.size() == 64);
  CHECK(new_secret() != id);
  const std::string set = set_cookie_header(id, 3600);
  CHECK(set == "sluice_ui=" + id + "; Path=/ui; Max-Age=3600; HttpOnly; Secure; SameSite=Strict");
  CHECK(set_cookie_header(id, 0) == "sluice_ui=; Path=/ui; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
}

TEST_CASE("ui cookie: the session id is read from the Cookie header strictly") {
  const std::string id(64, 'a');
  CHECK(session_from_cookie_header("sluice_ui=" + id) == id);
  CHECK(session_from_cookie_header("theme=dark; sluice_ui=" + id + "; lang=en") == id);
  CHECK_FALSE(session_from_cookie_header("").has_value());
  CHECK_FALSE(session_from_cookie_header("other=" + id).has_value());
  CHECK_FALSE(session_from_cookie_header("sluice_ui=" + std::string(63, 'a')).has_value());
  CHECK_FALSE(session_from_cookie_header("sluice_ui=" + std::string(64, 'A')).has_value());  // not ours: upper case
  CHECK_FALSE(session_from_cookie_header("sluice_ui=" + std::string(64, 'g')).has_value());
  // two cookies of the name (one planted from a sibling domain): neither is trusted
  CHECK_FALSE(session_from_cookie_header("sluice_ui=" + id + "; sluice_ui=" + std::string(64, 'b')).has_value());
  CHECK_FALSE(session_from_cookie_header("sluice_uix=" + id).has_value());
}

TEST_CASE("ui csrf: reads need no token, every other method the session's own") {
  const std::string token = new_secret();
  CHECK(csrf_allows("GET", "", token));
  CHECK(csrf_allows("HEAD", "", token));
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    CAPTURE(method);
    CHECK(csrf_allows(method, token, token));
    CHECK_FALSE(csrf_allows(method, "", token));
    CHECK_FALSE(csrf_allows(method, token.substr(1), token));
    CHECK_FALSE(csrf_allows(method, new_secret(), token));
    CHECK_FALSE(csrf_allows(method, "", ""));
  }
}

TEST_CASE("ui oidc login: the state cookie goes to the callback only, and comes along on the way back") {
  const std::string state(64, 'c');
  CHECK(set_login_cookie_header(state, 600) ==
        "sluice_ui_login=" + state + "; Path=/ui/callback; Max-Age=600; HttpOnly; Secure; SameSite=Lax");
  CHECK(set_login_cookie_header(state, 0) == "sluice_ui_login=; Path=/ui/callback; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
  CHECK(cookie_from_header("sluice_ui=" + std::string(64, 'a') + "; sluice_ui_login=" + state, kLoginCookieName) == state);
  CHECK_FALSE(cookie_from_header("sluice_ui_login=" + state, kCookieName).has_value());
  CHECK_FALSE(cookie_from_header("sluice_ui_login=<script>", kLoginCookieName).has_value());
}

TEST_CASE("ui oidc login: a login returns to a page of the UI and nowhere else") {
  for (const char* ok : {"/ui/", "/ui/approvals/0b5c-11", "/ui/?state=executed&cluster=prod", "/ui/sessions/x%2Fy"}) {
    CAPTURE(ok);
    CHECK(is_safe_return_path(ok));
  }
  for (const char* bad : {"", "/", "/ui", "https://evil.example/ui/", "//evil.example/ui/", "/ui//evil.example",
                          "/ui/../api/v1/approvals", "/ui/\\evil", "/ui/a b", "/ui/\"><script>", "/uix/"}) {
    CAPTURE(bad);
    CHECK_FALSE(is_safe_return_path(bad));
  }
  CHECK_FALSE(is_safe_return_path("/ui/" + std::string(600, 'a')));
}
