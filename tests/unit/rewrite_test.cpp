// The request head as the cluster sees it (identity impersonated, the client's credentials and
// impersonation gone) and the response head as the client sees it (hop-by-hop fields gone).
#include <doctest/doctest.h>

#include <algorithm>

#include "gateway/pipeline/request_rewrite.h"
#include "gateway/pipeline/response_rewrite.h"

using namespace sluice;
using namespace sluice::gateway;

namespace {
std::vector<std::string> values(const HeaderList& h, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : h)
    if (k == name) out.push_back(v);
  return out;
}
bool has(const HeaderList& h, const std::string& name) {
  return std::any_of(h.begin(), h.end(), [&](const auto& kv) {
    std::string a = kv.first, b = name;
    std::transform(a.begin(), a.end(), a.begin(), ::tolower);
    std::transform(b.begin(), b.end(), b.begin(), ::tolower);
    return a == b;
  });
}
Identity alice() {
  Identity who;
  who.user = "alice";
  who.uid = "u-1";
  who.groups = {"dev", "ops"};
  who.extra = {{"oidc.issuer/sub", {"https://idp", "x"}}};
  return who;
}
}  // namespace

TEST_CASE("rewrite_request_headers: the caller's identity replaces the client's credentials and impersonation") {
  HeaderList client = {{"Authorization", "Bearer secret"},        {"impersonate-user", "admin"},
                       {"Impersonate-Group", "system:masters"},   {"IMPERSONATE-EXTRA-scopes", "all"},
                       {"Impersonate-Uid", "0"},                  {"Accept", "application/json"},
                       {"User-Agent", "kubectl/v1.32"}};
  auto out = rewrite_request_headers(client, alice(), false);
  CHECK_FALSE(has(out, "Authorization"));
  CHECK(values(out, "Impersonate-User") == std::vector<std::string>{"alice"});
  CHECK(values(out, "Impersonate-Uid") == std::vector<std::string>{"u-1"});
  // system:authenticated is added as the API server adds it for real users
  CHECK(values(out, "Impersonate-Group") == std::vector<std::string>{"dev", "ops", "system:authenticated"});
  CHECK(values(out, "Impersonate-Extra-oidc.issuer%2Fsub") == std::vector<std::string>{"https://idp", "x"});
  CHECK_FALSE(has(out, "impersonate-extra-scopes"));
  CHECK(values(out, "Accept") == std::vector<std::string>{"application/json"});
  CHECK(values(out, "User-Agent") == std::vector<std::string>{"kubectl/v1.32"});
}

TEST_CASE("rewrite_request_headers: system:authenticated is not sent twice - no uid, no Impersonate-Uid") {
  Identity who;
  who.user = "bot";
  who.groups = {"system:authenticated"};
  auto out = rewrite_request_headers({}, who, false);
  CHECK(values(out, "Impersonate-Group") == std::vector<std::string>{"system:authenticated"});
  CHECK_FALSE(has(out, "Impersonate-Uid"));
}

TEST_CASE("rewrite_request_headers: a header the client's Connection names is dropped, and the list never travels") {
  // naming Impersonate-User in Connection is how a client makes a proxy drop the identity (CVE-2021-31999)
  HeaderList client = {{"Connection", "keep-alive, Impersonate-User, X-Debug"}, {"X-Debug", "1"},
                       {"Keep-Alive", "timeout=5"}, {"TE", "trailers"}, {"Transfer-Encoding", "chunked"}};
  auto out = rewrite_request_headers(client, alice(), false);
  CHECK_FALSE(has(out, "Connection"));
  CHECK_FALSE(has(out, "X-Debug"));
  CHECK_FALSE(has(out, "Keep-Alive"));
  CHECK_FALSE(has(out, "TE"));
  CHECK_FALSE(has(out, "Transfer-Encoding"));
  CHECK(values(out, "Impersonate-User") == std::vector<std::string>{"alice"});
}

TEST_CASE("rewrite_request_headers: an upgrade keeps Upgrade and gets a plain Connection: Upgrade") {
  HeaderList client = {{"Connection", "Upgrade, Impersonate-Group"}, {"Upgrade", "websocket"},
                       {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}};
  auto out = rewrite_request_headers(client, alice(), true);
  CHECK(values(out, "Connection") == std::vector<std::string>{"Upgrade"});
  CHECK(values(out, "Upgrade") == std::vector<std::string>{"websocket"});
  CHECK(values(out, "Sec-WebSocket-Protocol") == std::vector<std::string>{"v5.channel.k8s.io"});
  CHECK(values(out, "Impersonate-Group").size() == 3);
  // without `upgrade`, the same head loses both
  auto plain = rewrite_request_headers(client, alice(), false);
  CHECK_FALSE(has(plain, "Upgrade"));
  CHECK_FALSE(has(plain, "Connection"));
}

TEST_CASE("route_request: /clusters/<name> names the cluster, the rest is what it sees") {
  auto r = route_request("/clusters/prod-eu/api/v1/pods?watch=1");
  REQUIRE(r);
  CHECK(r->cluster == "prod-eu");
  CHECK(r->target == "/api/v1/pods?watch=1");
  CHECK(route_request("/clusters/prod-eu")->target == "/");
  CHECK_FALSE(route_request("/api/v1/pods"));
}

TEST_CASE("rewrite_response_head: hop-by-hop fields go - a rewritten body loses its length") {
  HeaderList up = {{"Content-Type", "application/json"}, {"Content-Length", "12"}, {"Connection", "close"},
                   {"Transfer-Encoding", "chunked"}, {"Keep-Alive", "timeout=5"}, {"Audit-Id", "a"}};
  auto head = rewrite_response_head(200, up, false, false);
  CHECK(head.status == 200);
  CHECK(head.has_length);
  CHECK_FALSE(head.bodiless);
  CHECK(head.headers == HeaderList{{"Content-Type", "application/json"}, {"Content-Length", "12"}, {"Audit-Id", "a"}});
  auto masked = rewrite_response_head(200, up, true, false);
  CHECK_FALSE(masked.has_length);
  CHECK_FALSE(has(masked.headers, "Content-Length"));
}

TEST_CASE("rewrite_response_head: a 101 keeps Connection and Upgrade - HEAD, 204 and 304 have no body") {
  HeaderList up = {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}};
  auto head = rewrite_response_head(101, up, false, false);
  CHECK(head.headers.size() == 3);
  CHECK(head.bodiless);
  CHECK(rewrite_response_head(200, {}, false, true).bodiless);
  CHECK(rewrite_response_head(204, {}, false, false).bodiless);
  CHECK(rewrite_response_head(304, {}, false, false).bodiless);
  CHECK_FALSE(rewrite_response_head(404, {}, false, false).bodiless);
  CHECK_FALSE(has(rewrite_response_head(200, up, false, false).headers, "Upgrade"));
}
