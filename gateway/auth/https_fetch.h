// Blocking HTTPS requests to an identity provider with libcurl (discovery, JWKS, the token
// endpoint): https only, TLS verified against `ca_file` or the system's CAs, 5 s to connect, 10 s
// in all, at most 1 MiB of answer. Never from an Asio thread.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::gateway::oidc {

struct HttpsAnswer {
  long status = 0;
  std::string body;
};

// The body of a 200 answer; nullopt with `error` naming the URL and what failed.
std::optional<std::string> https_get(const std::string& url, const std::string& ca_file, std::string& error);

// An application/x-www-form-urlencoded POST of `form` (names and values percent-encoded here); any status comes
// back, so a caller can read an OAuth error body. nullopt only when no answer came.
std::optional<HttpsAnswer> https_post_form(const std::string& url,
                                           const std::vector<std::pair<std::string, std::string>>& form,
                                           const std::vector<std::string>& headers, const std::string& ca_file,
                                           std::string& error);

}  // namespace sluice::gateway::oidc
