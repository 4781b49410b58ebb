#include "agent/upstream_config.h"

#include <spdlog/spdlog.h>

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "common/base64.h"
#include "common/tls_certs.h"

namespace sluice::agent {
namespace {
// A kubeconfig value given inline (*-data, base64) or as a file relative to the kubeconfig.
std::string data_or_file(const YAML::Node& n, const char* data_key, const char* file_key, const std::filesystem::path& base) {
  if (n[data_key]) return common::base64_decode(n[data_key].as<std::string>()).value_or("");
  if (n[file_key]) {
    std::filesystem::path p = n[file_key].as<std::string>();
    if (p.is_relative()) p = base / p;
    return common::read_file(p.string());
  }
  return "";
}

YAML::Node named(const YAML::Node& list, const std::string& name, const char* inner) {
  for (const auto& item : list)
    if (item["name"] && item["name"].as<std::string>() == name) return item[inner];
  return YAML::Node();
}
}  // namespace

std::string UpstreamConfig::bearer_token() const {
  if (token_file) {
    try {
      return token_file->get();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return token;
    }
  }
  return token;
}

bool parse_https_url(const std::string& url, std::string& host, unsigned short& port) {
  const std::string prefix = "https://";
  if (url.compare(0, prefix.size(), prefix) != 0) return false;
  std::string rest = url.substr(prefix.size());
  rest = rest.substr(0, rest.find('/'));
  port = 443;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = static_cast<unsigned short>(std::stoul(rest.substr(close + 2)));
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = static_cast<unsigned short>(std::stoul(rest.substr(colon + 1)));
  } else {
    host = rest;
  }
  return !host.empty();
}

std::optional<UpstreamConfig> load_kubeconfig(const std::string& path, const std::string& context_name, std::string& error) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    const auto base = std::filesystem::absolute(path).parent_path();
    const std::string ctx_name = context_name.empty() ? root["current-context"].as<std::string>("") : context_name;
    const YAML::Node ctx = named(root["contexts"], ctx_name, "context");
    if (!ctx) {
      error = path + ": no context named \"" + ctx_name + "\"";
      return std::nullopt;
    }
    const YAML::Node cluster = named(root["clusters"], ctx["cluster"].as<std::string>(""), "cluster");
    const YAML::Node user = named(root["users"], ctx["user"].as<std::string>(""), "user");
    if (!cluster) {
      error = path + ": context \"" + ctx_name + "\" names no cluster entry that exists";
      return std::nullopt;
    }
    UpstreamConfig c;
    if (!parse_https_url(cluster["server"].as<std::string>(""), c.host, c.port)) {
      error = path + ": the cluster's server must be an https:// URL";
      return std::nullopt;
    }
    c.ca_pem = data_or_file(cluster, "certificate-authority-data", "certificate-authority", base);
    if (user) {
      c.token = user["token"].as<std::string>("");
      if (user["tokenFile"]) c.token_file = std::make_shared<TokenFile>(user["tokenFile"].as<std::string>());
      c.client_cert_pem = data_or_file(user, "client-certificate-data", "client-certificate", base);
      c.client_key_pem = data_or_file(user, "client-key-data", "client-key", base);
      if (user["exec"] || user["auth-provider"]) {
        error = path + ": exec and auth-provider credentials are not supported; use a token or a client certificate";
        return std::nullopt;
      }
    }
    return c;
  } catch (const std::exception& e) {
    error = path + ": " + e.what();
    return std::nullopt;
  }
}

std::optional<UpstreamConfig> load_in_cluster(const std::string& dir, std::string& error) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port) {
    error = "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); pass --kubeconfig";
    return std::nullopt;
  }
  UpstreamConfig c;
  c.host = host;
  c.port = static_cast<unsigned short>(std::strtoul(port, nullptr, 10));
  c.token_file = std::make_shared<TokenFile>(dir + "/token");
  try {
    c.ca_pem = common::read_file(dir + "/ca.crt");
    c.token = c.token_file->get();
  } catch (const std::exception& e) {
    error = std::string("in-cluster credentials: ") + e.what();
    return std::nullopt;
  }
  return c;
}

}  // namespace sluice::agent
