#include "gateway/config/gateway_config.h"

#include "gateway/policy/policy_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

namespace sluice::gateway {
namespace {
std::string resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}
}  // namespace

bool split_host_port(const std::string& text, std::string& host, unsigned short& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    unsigned long p = std::stoul(text.substr(colon + 1));
    if (p > 65535) return false;
    port = static_cast<unsigned short>(p);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::optional<GatewayConfig> load_gateway_config(const std::string& path, std::string& error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    error = path + ": " + e.what();
    return std::nullopt;
  }
  const auto base = std::filesystem::absolute(path).parent_path();
  GatewayConfig c;
  try {
    if (root["listen"]) c.listen = root["listen"].as<std::string>();
    if (root["http2"]) c.http2 = root["http2"].as<bool>();
    if (root["public_url"]) c.public_url = root["public_url"].as<std::string>();
    if (root["agent_listen"]) c.agent_listen = root["agent_listen"].as<std::string>();
    if (auto tls = root["tls"]) {
      if (tls["cert_file"]) c.tls.cert_file = resolve(base, tls["cert_file"].as<std::string>());
      if (tls["key_file"]) c.tls.key_file = resolve(base, tls["key_file"].as<std::string>());
      if (tls["ca_file"]) c.tls.ca_file = resolve(base, tls["ca_file"].as<std::string>());
      if (tls["cluster_name_suffix"]) c.tls.cluster_name_suffix = tls["cluster_name_suffix"].as<std::string>();
      const auto& suffix = c.tls.cluster_name_suffix;
      if (suffix.empty() || suffix.front() == '.' || suffix.back() == '.' ||
          suffix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") != std::string::npos) {
        error = path + ": tls.cluster_name_suffix must be a lower-case DNS name such as clusters.example.com, got \"" +
                suffix + "\"";
        return std::nullopt;
      }
    }
    if (auto db = root["database"]; db && db["url"]) c.database_url = db["url"].as<std::string>();
    if (auto auth = root["auth"]; auth && auth["static_tokens_file"])
      c.static_tokens_file = resolve(base, auth["static_tokens_file"].as<std::string>());
    if (auto auth = root["auth"]; auth && auth["client_ca_file"])
      c.client_ca_file = resolve(base, auth["client_ca_file"].as<std::string>());
    if (auto auth = root["auth"]; auth && auth["oidc"]) {
      for (const auto& node : auth["oidc"]) {
        OidcIssuerSettings o;
        o.issuer = node["issuer"].as<std::string>("");
        if (node["audiences"]) o.audiences = node["audiences"].as<std::vector<std::string>>();
        if (node["username_claim"]) o.username_claim = node["username_claim"].as<std::string>();
        if (node["username_prefix"]) o.username_prefix = node["username_prefix"].as<std::string>();
        else if (o.username_claim != "email") o.username_prefix = o.issuer + "#";
        if (o.username_prefix == "-") o.username_prefix.clear();
        if (node["groups_claim"]) o.groups_claim = node["groups_claim"].as<std::string>();
        if (node["groups_prefix"]) o.groups_prefix = node["groups_prefix"].as<std::string>();
        if (node["uid_claim"]) o.uid_claim = node["uid_claim"].as<std::string>();
        if (node["required_claims"]) o.required_claims = node["required_claims"].as<std::map<std::string, std::string>>();
        if (node["ca_file"]) o.ca_file = resolve(base, node["ca_file"].as<std::string>());
        if (node["clock_skew_seconds"]) o.clock_skew_seconds = node["clock_skew_seconds"].as<int>();
        if (node["min_refresh_seconds"]) o.min_refresh_seconds = node["min_refresh_seconds"].as<int>();
        if (node["client_id"]) o.client_id = node["client_id"].as<std::string>();
        if (node["client_secret_file"]) o.client_secret_file = resolve(base, node["client_secret_file"].as<std::string>());
        if (node["scopes"]) o.scopes = node["scopes"].as<std::vector<std::string>>();
        if (node["display_name"]) o.display_name = node["display_name"].as<std::string>();
        if (o.issuer.rfind("https://", 0) != 0 || o.audiences.empty()) {
          error = path + ": auth.oidc: each issuer needs an https:// issuer URL and at least one audience";
          return std::nullopt;
        }
        if (!o.client_id.empty() &&
            std::find(o.audiences.begin(), o.audiences.end(), o.client_id) == o.audiences.end()) {
          error = path + ": auth.oidc: " + o.issuer + ": client_id \"" + o.client_id +
                  "\" must be one of its audiences (an ID token's aud is the client id)";
          return std::nullopt;
        }
        if (!o.client_id.empty() && std::find(o.scopes.begin(), o.scopes.end(), "openid") == o.scopes.end()) {
          error = path + ": auth.oidc: " + o.issuer + ": scopes must include openid";
          return std::nullopt;
        }
        c.oidc.push_back(std::move(o));
      }
    }
    if (auto l = root["limits"]) {
      if (l["max_header_bytes"]) c.limits.max_header_bytes = l["max_header_bytes"].as<std::size_t>();
      if (l["max_body_bytes"]) c.limits.max_body_bytes = l["max_body_bytes"].as<std::size_t>();
      if (l["header_timeout_seconds"]) c.limits.header_timeout_seconds = l["header_timeout_seconds"].as<int>();
      if (l["idle_timeout_seconds"]) c.limits.idle_timeout_seconds = l["idle_timeout_seconds"].as<int>();
      if (l["exchange_wait_seconds"]) c.limits.exchange_wait_seconds = l["exchange_wait_seconds"].as<int>();
      if (l["http2_max_concurrent_streams"])
        c.limits.http2_max_concurrent_streams = l["http2_max_concurrent_streams"].as<std::uint32_t>();
      if (l["http2_max_early_resets"]) c.limits.http2_max_early_resets = l["http2_max_early_resets"].as<std::uint32_t>();
    }
    if (auto p = root["policy"]; p && p["file"]) c.policy.file = resolve(base, p["file"].as<std::string>());
    if (auto a = root["approvals"]) {
      if (a["viewer_groups"]) c.approvals.viewer_groups = a["viewer_groups"].as<std::vector<std::string>>();
      if (a["max_pending_per_identity"]) c.approvals.max_pending_per_identity = a["max_pending_per_identity"].as<int>();
      if (c.approvals.max_pending_per_identity < 1) {
        error = path + ": approvals.max_pending_per_identity must be at least 1";
        return std::nullopt;
      }
    }
    if (auto m = root["metrics"]) {
      if (m["listen"]) c.metrics.listen = m["listen"].as<std::string>();
      if (m["authenticate"]) c.metrics.authenticate = m["authenticate"].as<bool>();
      if (m["groups"]) c.metrics.groups = m["groups"].as<std::vector<std::string>>();
      std::string host;
      unsigned short port = 0;
      if (!c.metrics.listen.empty() && !split_host_port(c.metrics.listen, host, port)) {
        error = path + ": metrics.listen must be host:port, got \"" + c.metrics.listen + "\"";
        return std::nullopt;
      }
      if (c.metrics.groups.empty()) {
        error = path + ": metrics.groups must name at least one group";
        return std::nullopt;
      }
    }
    if (auto n = root["notifications"]) {
      if (n["review_url"]) c.notifications.review_url = n["review_url"].as<std::string>();
      if (n["max_attempts"]) c.notifications.max_attempts = n["max_attempts"].as<int>();
      if (n["retry_initial_ms"]) c.notifications.retry_initial_ms = n["retry_initial_ms"].as<int>();
      for (const auto& node : n["sinks"]) {
        NotificationSinkSettings s;
        s.name = node["name"].as<std::string>("");
        s.type = node["type"].as<std::string>("");
        s.url = node["url"].as<std::string>("");
        s.url_file = resolve(base, node["url_file"].as<std::string>(""));
        s.secret_file = resolve(base, node["secret_file"].as<std::string>(""));
        s.ca_file = resolve(base, node["ca_file"].as<std::string>(""));
        s.from = node["from"].as<std::string>("");
        if (node["to"]) s.to = node["to"].as<std::vector<std::string>>();
        s.username = node["username"].as<std::string>("");
        s.password_file = resolve(base, node["password_file"].as<std::string>(""));
        const std::string where = path + ": notifications.sinks[" + s.name + "]: ";
        if (s.name.empty()) error = path + ": notifications.sinks: every sink needs a name";
        else if (s.type != "webhook" && s.type != "slack" && s.type != "email")
          error = where + "type must be webhook, slack or email, not \"" + s.type + "\"";
        else if (s.url.empty() == s.url_file.empty()) error = where + "give url or url_file (one of them)";
        else if (s.type == "email" && (s.from.empty() || s.to.empty())) error = where + "email needs from and to";
        for (const auto& other : c.notifications.sinks)
          if (other.name == s.name) error = where + "the name is used twice";
        if (!error.empty()) return std::nullopt;
        c.notifications.sinks.push_back(std::move(s));
      }
      if (c.notifications.max_attempts < 1 || c.notifications.retry_initial_ms < 10) {
        error = path + ": notifications: max_attempts must be at least 1 and retry_initial_ms at least 10";
        return std::nullopt;
      }
    }
    if (root["trusted_proxies"]) c.trusted_proxies = root["trusted_proxies"].as<std::vector<std::string>>();
    if (auto r = root["recording"]) {
      if (r["enabled"]) c.recording.enabled = r["enabled"].as<bool>();
      if (r["max_body_bytes"]) c.recording.max_body_bytes = r["max_body_bytes"].as<std::uint64_t>();
      if (r["retention"]) c.recording.retention = r["retention"].as<std::string>();
      if (r["retention_check_seconds"]) c.recording.retention_check_seconds = r["retention_check_seconds"].as<int>();
      if (r["max_queue_bytes"]) c.recording.max_queue_bytes = r["max_queue_bytes"].as<std::size_t>();
      if (r["viewer_groups"]) c.recording.viewer_groups = r["viewer_groups"].as<std::vector<std::string>>();
      if (!c.recording.retention.empty() && !policy::parse_duration(c.recording.retention)) {
        error = path + ": recording.retention must be a duration such as 30d or 12h, not \"" + c.recording.retention + "\"";
        return std::nullopt;
      }
      if (c.recording.retention_check_seconds < 1) {
        error = path + ": recording.retention_check_seconds must be at least 1";
        return std::nullopt;
      }
    }
    if (auto a = root["audit"]) {
      if (a["enabled"]) c.audit.enabled = a["enabled"].as<bool>();
      if (a["commit_timeout_ms"]) c.audit.commit_timeout_ms = a["commit_timeout_ms"].as<int>();
      if (a["max_batch"]) c.audit.max_batch = a["max_batch"].as<int>();
      if (a["export_retry_initial_ms"]) c.audit.export_retry_initial_ms = a["export_retry_initial_ms"].as<int>();
      if (a["viewer_groups"]) c.audit.viewer_groups = a["viewer_groups"].as<std::vector<std::string>>();
      for (const auto& n : a["sinks"]) {
        AuditSinkSettings s;
        s.name = n["name"].as<std::string>("");
        s.type = n["type"].as<std::string>("");
        s.path = resolve(base, n["path"].as<std::string>(""));
        if (n["max_bytes"]) s.max_bytes = n["max_bytes"].as<std::uint64_t>();
        if (n["max_files"]) s.max_files = n["max_files"].as<int>();
        s.url = n["url"].as<std::string>("");
        s.ca_file = resolve(base, n["ca_file"].as<std::string>(""));
        s.token_file = resolve(base, n["token_file"].as<std::string>(""));
        if (n["max_batch"]) s.max_batch = n["max_batch"].as<int>();
        const std::string where = path + ": audit.sinks[" + s.name + "]: ";
        if (s.name.empty()) error = path + ": audit.sinks: every sink needs a name";
        else if (s.type == "file" && s.path.empty()) error = where + "a file sink needs path";
        else if (s.type == "webhook" && s.url.empty()) error = where + "a webhook sink needs url";
        else if (s.type != "file" && s.type != "webhook") error = where + "type must be file or webhook";
        else if (s.max_files < 1 || s.max_batch < 1) error = where + "max_files and max_batch must be at least 1";
        for (const auto& other : c.audit.sinks)
          if (other.name == s.name) error = where + "two sinks have this name";
        if (!error.empty()) return std::nullopt;
        c.audit.sinks.push_back(std::move(s));
      }
    }
  } catch (const YAML::Exception& e) {
    error = path + ": " + e.what();
    return std::nullopt;
  }
  std::string host;
  unsigned short port = 0;
  if (!split_host_port(c.listen, host, port)) {
    error = path + ": listen: expected HOST:PORT, got \"" + c.listen + "\"";
    return std::nullopt;
  }
  if (!split_host_port(c.agent_listen, host, port)) {
    error = path + ": agent_listen: expected HOST:PORT, got \"" + c.agent_listen + "\"";
    return std::nullopt;
  }
  if (c.audit.commit_timeout_ms < 10 || c.audit.max_batch < 1) {
    error = path + ": audit: commit_timeout_ms must be at least 10 and max_batch at least 1";
    return std::nullopt;
  }
  if (c.public_url.empty()) c.public_url = "https://" + c.listen;
  if (c.notifications.review_url.empty()) c.notifications.review_url = c.public_url;
  if (c.database_url.empty()) {
    error = path + ": database.url is required";
    return std::nullopt;
  }
  return c;
}

}  // namespace sluice::gateway
