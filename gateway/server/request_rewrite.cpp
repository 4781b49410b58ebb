#include "gateway/server/request_rewrite.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace sluice::gateway {
namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
bool is_cluster_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) return false;
  return s.front() != '-' && s.back() != '-';
}
}  // namespace

std::string escape_extra_key(const std::string& key) {
  // Kubernetes percent-encodes every byte of an extra key that is not an HTTP token character
  // (client-go's headerKeyEscape); the API server decodes it again.
  static const std::string kTokenPunct = "!#$&'*+-.^_`|~";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || kTokenPunct.find(static_cast<char>(c)) != std::string::npos) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::optional<Route> route_request(const std::string& target) {
  static const std::string kPrefix = "/clusters/";
  if (target.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  const auto rest = target.substr(kPrefix.size());
  const auto end = rest.find_first_of("/?");
  Route r;
  r.cluster = rest.substr(0, end);
  if (!is_cluster_name(r.cluster)) return std::nullopt;
  r.target = end == std::string::npos ? "/" : rest.substr(end);
  if (r.target[0] == '?') r.target = "/" + r.target;
  return r;
}

bool is_client_impersonation_header(const std::string& name) { return lower(name).rfind("impersonate-", 0) == 0; }

HeaderList rewrite_request_headers(const HeaderList& client_headers, const Identity& who, bool upgrade) {
  static const std::vector<std::string> kHopByHop = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                                     "transfer-encoding", "upgrade", "proxy-authorization"};
  HeaderList out;
  for (const auto& [name, value] : client_headers) {
    const std::string n = lower(name);
    if (n == "authorization" || is_client_impersonation_header(n)) continue;
    if (std::find(kHopByHop.begin(), kHopByHop.end(), n) != kHopByHop.end()) {
      if (upgrade && (n == "connection" || n == "upgrade")) out.emplace_back(name, value);
      continue;
    }
    out.emplace_back(name, value);
  }
  out.emplace_back("Impersonate-User", who.user);
  if (!who.uid.empty()) out.emplace_back("Impersonate-Uid", who.uid);
  bool authenticated = false;
  for (const auto& g : who.groups) {
    out.emplace_back("Impersonate-Group", g);
    authenticated = authenticated || g == "system:authenticated";
  }
  if (!authenticated) out.emplace_back("Impersonate-Group", "system:authenticated");
  for (const auto& [key, values] : who.extra)
    for (const auto& v : values) out.emplace_back("Impersonate-Extra-" + escape_extra_key(key), v);
  return out;
}

}  // namespace sluice::gateway
