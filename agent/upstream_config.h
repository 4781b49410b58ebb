// How the agent reaches its API server: in-cluster (service host, ServiceAccount token and CA)
// or a kubeconfig (bearer token, client certificate, CA) for development.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "agent/token_file.h"

namespace sluice::agent {

struct UpstreamConfig {
  std::string host;
  unsigned short port = 443;
  std::string ca_pem;           // empty: the system trust store
  std::string token;            // a fixed bearer token, or
  std::shared_ptr<TokenFile> token_file;  // or a token file, followed as it rotates
  std::string client_cert_pem;  // client certificate authentication
  std::string client_key_pem;

  std::string bearer_token() const;  // "" when none
};

std::optional<UpstreamConfig> load_kubeconfig(const std::string& path, const std::string& context, std::string& error);
// `serviceaccount_dir` holds token and ca.crt (in a pod: /var/run/secrets/kubernetes.io/serviceaccount).
std::optional<UpstreamConfig> load_in_cluster(const std::string& serviceaccount_dir, std::string& error);

// "https://host:port" -> host and port; false when not an https URL.
bool parse_https_url(const std::string& url, std::string& host, unsigned short& port);

}  // namespace sluice::agent
