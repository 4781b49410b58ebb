#include "gateway/cli/login_command.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/request_info.h"
#include "common/tls_certs.h"
#include "common/token_compare.h"
#include "gateway/auth/https_fetch.h"
#include "gateway/auth/jwt.h"
#include "gateway/auth/oauth_client.h"
#include "gateway/cli/command_line.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace sluice::gateway::cli {
namespace {

struct Client {
  std::string issuer, client_id, client_secret, ca_file, scopes;
};

struct Endpoints {
  std::string authorization, token, device;
};

[[noreturn]] void fail(const std::string& why) {
  std::cerr << "sluice-gateway login: " << why << "\n";
  std::exit(1);
}

Endpoints discover(const Client& c) {
  std::string error;
  auto found = oidc::discover(c.issuer, c.ca_file, error);
  if (!found) fail("the identity provider cannot be reached: " + error);
  return {found->authorization, found->token, found->device};
}

// The token endpoint's answer as JSON, with the HTTP status in "_status".
json token_request(const Client& c, const Endpoints& e, std::vector<std::pair<std::string, std::string>> form) {
  std::string error;
  auto answer = oidc::token_request(e.token, std::move(form), c.client_id, c.client_secret, c.ca_file, error);
  if (!answer) fail("the token endpoint cannot be reached: " + error);
  json body = std::move(answer->body);
  body["_status"] = answer->status;
  return body;
}

// exp of a JWT's (unverified) payload: the gateway verifies the token; this only schedules refreshes.
long long expiry_of(const std::string& token) {
  const auto claims = jwt::unverified_claims(token);
  return claims.is_object() && claims.contains("exp") && claims["exp"].is_number() ? claims["exp"].get<long long>() : 0;
}

fs::path cache_file(const Client& c, std::string cache_dir) {
  if (cache_dir.empty()) {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) cache_dir = std::string(xdg) + "/sluice/oidc";
    else if (const char* home = std::getenv("HOME"); home && *home) cache_dir = std::string(home) + "/.cache/sluice/oidc";
    else fail("no cache directory: set HOME, XDG_CACHE_HOME or --cache-dir");
  }
  return fs::path(cache_dir) / (common::sha256_hex(c.issuer + "\n" + c.client_id) + ".json");
}

void save(const fs::path& path, const json& tokens) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);  // before the secret goes in
    out << tokens.dump() << "\n";
    if (!out) fail("cannot write the token cache " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) fail("cannot write the token cache " + path.string() + ": " + ec.message());
}

// Keeps the old refresh token when the provider sends none (it may rotate it or not).
json remember(const json& answer, const json& before) {
  if (!answer.contains("id_token") || !answer["id_token"].is_string())
    fail("the identity provider's answer holds no ID token");
  json tokens = {{"idToken", answer["id_token"]}, {"expiresAt", expiry_of(answer["id_token"].get<std::string>())}};
  if (answer.contains("refresh_token") && answer["refresh_token"].is_string()) tokens["refreshToken"] = answer["refresh_token"];
  else if (before.contains("refreshToken")) tokens["refreshToken"] = before["refreshToken"];
  return tokens;
}

void show_user(const std::string& browser, const std::string& url, const std::string& what) {
  std::cerr << what << "\n  " << url << "\n";
  if (browser.empty()) return;
  // The URL is ours to quote: it is one argument, never shell text.
  const pid_t pid = fork();
  if (pid == 0) {
    execlp("sh", "sh", "-c", (browser + " \"$1\" >/dev/null 2>&1").c_str(), "sh", url.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
}

// One GET of the loopback redirect: the code and state, or the provider's error.
common::QueryParams wait_for_redirect(boost::asio::ip::tcp::acceptor& acceptor, std::chrono::seconds timeout) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  acceptor.non_blocking(true);
  while (std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket socket(acceptor.get_executor());
    acceptor.accept(socket, ec);
    if (ec == boost::asio::error::would_block) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (ec) fail("the loopback listener failed: " + ec.message());
    socket.non_blocking(false);
    struct timeval tv{10, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    http::read(socket, buffer, parser, ec);
    if (ec) continue;
    const std::string target(parser.get().target());
    if (target.rfind("/callback?", 0) != 0) {
      http::response<http::string_body> res{http::status::not_found, 11};
      res.body() = "not here\n";
      res.prepare_payload();
      http::write(socket, res, ec);
      continue;
    }
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "Logged in to Sluice. You can close this window.\n";
    res.prepare_payload();
    http::write(socket, res, ec);
    return common::decode_query(target.substr(10)).params;
  }
  fail("no login within " + std::to_string(timeout.count()) + " s");
}

json browser_login(const Client& c, const Endpoints& e, const std::string& browser, std::chrono::seconds timeout) {
  if (e.authorization.empty()) fail("the identity provider has no authorization endpoint");
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string redirect = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/callback";
  const std::string state = common::random_token_hex(16), verifier = common::random_token_hex(32);
  const std::string url = e.authorization + (e.authorization.find('?') == std::string::npos ? "?" : "&") +
                          "response_type=code&client_id=" + common::percent_encode(c.client_id) +
                          "&redirect_uri=" + common::percent_encode(redirect) + "&scope=" + common::percent_encode(c.scopes) +
                          "&state=" + state + "&code_challenge=" + oidc::pkce_s256(verifier) + "&code_challenge_method=S256";
  show_user(browser, url, "Log in to " + c.issuer + " in your browser:");
  const auto q = wait_for_redirect(acceptor, timeout);
  if (auto error = common::query_value(q, "error"))
    fail("the identity provider refused the login: " + *error + " " + common::query_value(q, "error_description").value_or(""));
  if (!common::constant_time_equals(common::query_value(q, "state").value_or(""), state))
    fail("the redirect's state is not this login's (another login, or a forged redirect)");
  const auto answer = token_request(c, e, {{"grant_type", "authorization_code"},
                                           {"code", common::query_value(q, "code").value_or("")},
                                           {"redirect_uri", redirect},
                                           {"code_verifier", verifier}});
  if (answer["_status"] != 200) fail("the identity provider refused the code: " + answer.value("error", "?"));
  return answer;
}

json device_login(const Client& c, const Endpoints& e, const std::string& browser, std::chrono::seconds timeout) {
  if (e.device.empty()) fail("the identity provider offers no device flow (no device_authorization_endpoint)");
  std::string error;
  std::vector<std::pair<std::string, std::string>> form = {{"client_id", c.client_id}, {"scope", c.scopes}};
  auto answer = oidc::https_post_form(e.device, form, {}, c.ca_file, error);
  if (!answer) fail("the device endpoint cannot be reached: " + error);
  auto start = json::parse(answer->body, nullptr, false);
  if (answer->status != 200 || !start.is_object() || !start.contains("device_code"))
    fail("the identity provider refused the device login (HTTP " + std::to_string(answer->status) + ")");
  const std::string url = start.value("verification_uri_complete", start.value("verification_uri", ""));
  show_user(browser, url, "To log in to " + c.issuer + ", open this address and enter the code " +
                              start.value("user_code", "") + ":");
  int interval = std::max(1, start.value("interval", 5));
  const auto deadline = std::chrono::steady_clock::now() +
                        std::min<std::chrono::seconds>(timeout, std::chrono::seconds(start.value("expires_in", 600)));
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(interval));
    auto tokens = token_request(c, e, {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                                       {"device_code", start["device_code"].get<std::string>()}});
    if (tokens["_status"] == 200) return tokens;
    const std::string why = tokens.value("error", "");
    if (why == "slow_down") interval += 5;
    else if (why != "authorization_pending") fail("the device login ended: " + (why.empty() ? "HTTP error" : why));
  }
  fail("no login within the device code's lifetime");
}

void print_credential(const std::string& token, long long expires_at) {
  json status = {{"token", token}};
  if (expires_at > 0) {
    char when[32];
    const std::time_t t = static_cast<std::time_t>(expires_at);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    status["expirationTimestamp"] = when;
  }
  std::cout << json{{"apiVersion", "client.authentication.k8s.io/v1"}, {"kind", "ExecCredential"}, {"status", status}}.dump()
            << "\n";
}

}  // namespace

int run_login(const std::vector<std::string>& args) {
  po::options_description opts(
      "Usage: sluice-gateway login --issuer URL --client-id ID [--device] [--token-file F]\n"
      "A kubectl exec credential plugin: prints an ExecCredential with an OIDC ID token (the kubeconfig\n"
      "`sluice-gateway kubeconfig --oidc URL` writes runs it). Prompts go to stderr");
  Client c;
  std::string token_file, cache_dir, browser, secret_file, scopes = "openid email profile offline_access";
  int timeout_seconds = 300;
  opts.add_options()("help,h", "show this help")
      ("issuer", po::value(&c.issuer), "the OIDC issuer URL (https)")
      ("client-id", po::value(&c.client_id), "the OAuth client registered for kubectl at the issuer")
      ("client-secret-file", po::value(&secret_file), "its secret, if the provider gives public clients one")
      ("ca-file", po::value(&c.ca_file), "CA bundle of the issuer's HTTPS (default: the system's)")
      ("scopes", po::value(&scopes), "space-separated scopes (default: openid email profile offline_access)")
      ("device", "use the device flow (no browser on this machine: enter a code on another device)")
      ("token-file", po::value(&token_file), "use the ID token in this file as it is (CI: GitHub Actions, GitLab)")
      ("browser", po::value(&browser), "command that opens a URL (default: $SLUICE_LOGIN_BROWSER, else xdg-open when $DISPLAY is set, else none: the URL is printed)")
      ("cache-dir", po::value(&cache_dir), "token cache (default: $XDG_CACHE_HOME/sluice/oidc or ~/.cache/sluice/oidc)")
      ("timeout", po::value(&timeout_seconds), "seconds to wait for the login (default 300)");
  po::options_description hidden;
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto exit_code = parse_command_line("login", args, opts, hidden, pos, vm)) return *exit_code;
  if (!token_file.empty()) {
    std::string token;
    try {
      token = common::read_file(token_file);
    } catch (const std::exception& e) {
      fail(e.what());
    }
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) fail(token_file + " is empty");
    print_credential(token, expiry_of(token));
    return 0;
  }
  if (c.issuer.rfind("https://", 0) != 0 || c.client_id.empty()) {
    std::cerr << "sluice-gateway login: --issuer (https) and --client-id are required\n" << opts;
    return 2;
  }
  if (!secret_file.empty()) {
    try {
      c.client_secret = common::read_file(secret_file);
    } catch (const std::exception& e) {
      fail(e.what());
    }
    while (!c.client_secret.empty() && (c.client_secret.back() == '\n' || c.client_secret.back() == '\r'))
      c.client_secret.pop_back();
  }
  c.scopes = scopes;
  if (!vm.count("browser")) {
    if (const char* b = std::getenv("SLUICE_LOGIN_BROWSER")) browser = b;
    else if (std::getenv("DISPLAY")) browser = "xdg-open";
  }
  const fs::path cached_at = cache_file(c, cache_dir);
  json cached = json::object();
  if (std::ifstream in(cached_at); in) {
    cached = json::parse(in, nullptr, false);
    if (!cached.is_object()) cached = json::object();
  }
  const long long now = std::time(nullptr);
  if (cached.contains("idToken") && cached.value("expiresAt", 0LL) > now + 60) {
    print_credential(cached["idToken"].get<std::string>(), cached.value("expiresAt", 0LL));
    return 0;
  }
  const Endpoints e = discover(c);
  json answer;
  if (cached.contains("refreshToken")) {
    answer = token_request(c, e, {{"grant_type", "refresh_token"}, {"refresh_token", cached["refreshToken"].get<std::string>()}});
    if (answer["_status"] != 200) {
      std::cerr << "sluice-gateway login: the refresh token was refused (" << answer.value("error", "?")
                << "): logging in again\n";
      cached.erase("refreshToken");
      answer = json();
    }
  }
  if (answer.is_null())
    answer = vm.count("device") ? device_login(c, e, browser, std::chrono::seconds(timeout_seconds))
                                : browser_login(c, e, browser, std::chrono::seconds(timeout_seconds));
  const json tokens = remember(answer, cached);
  save(cached_at, tokens);
  print_credential(tokens["idToken"].get<std::string>(), tokens.value("expiresAt", 0LL));
  return 0;
}

}  // namespace sluice::gateway::cli
