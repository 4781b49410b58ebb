// `sluice-gateway login`: a client-go exec credential plugin for OIDC, as kubelogin is. kubectl
// runs it (the user `sluice-gateway kubeconfig --oidc ISSUER` writes) and reads an ExecCredential
// from its stdout. The ID token comes from, in order:
//   --token-file F      a token a CI system wrote (GitHub Actions, GitLab): read as it is
//   the cache           $XDG_CACHE_HOME/sluice/oidc/<sha256(issuer, client)>.json, 0600, while
//                       the token has more than a minute left
//   a refresh           the cached refresh token at the token endpoint
//   a login             the authorization-code flow with PKCE on a loopback redirect
//                       (127.0.0.1, any free port), or with --device the device flow (RFC 8628)
//                       for machines without a browser
// What the user must do (open a URL, enter a code) goes to stderr, never stdout.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway::cli {

int run_login(const std::vector<std::string>& args);

}  // namespace sluice::gateway::cli
