#include "gateway/pipeline/request_rewrite.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string_view>

namespace sluice::gateway {
namespace {
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

std::string cluster_named_by(const std::string& server_name, const std::string& suffix) {
  if (suffix.empty() || server_name.size() <= suffix.size() + 1) return "";
  std::string name = server_name;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto dot = name.size() - suffix.size() - 1;
  if (name[dot] != '.' || name.compare(dot + 1, std::string::npos, suffix) != 0) return "";
  name.resize(dot);
  return is_cluster_name(name) ? name : "";
}

std::string dry_run_target(const std::string& target) {
  const auto question = target.find('?');
  std::string out = target.substr(0, question);
  char sep = '?';
  if (question != std::string::npos) {
    std::string_view query(target);
    query.remove_prefix(question + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      const auto key = pair.substr(0, pair.find('='));
      // The classifier already refused escapes in dryRun's key; compare the raw key as sent.
      if (!pair.empty() && key != "dryRun") {
        out += sep;
        out += pair;
        sep = '&';
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return out + sep + "dryRun=All";
}

bool is_client_impersonation_header(const std::string& name) { return lower_name(name).rfind("impersonate-", 0) == 0; }

HeaderList rewrite_request_headers(const HeaderList& client_headers, const Identity& who, bool upgrade) {
  static const std::vector<std::string> kHopByHop = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                                     "transfer-encoding", "upgrade", "proxy-authorization"};
  // RFC 9110 7.6.1: a header named in Connection is hop-by-hop. Naming Impersonate-User there is
  // how a client makes a proxy drop the gateway's identity (CVE-2021-31999): such names are
  // dropped here, and the list itself never travels on.
  std::vector<std::string> named;
  for (const auto& [name, value] : client_headers) {
    if (lower_name(name) != "connection") continue;
    std::size_t at = 0;
    while (at <= value.size()) {
      auto comma = value.find(',', at);
      if (comma == std::string::npos) comma = value.size();
      std::string token = lower_name(value.substr(at, comma - at));
      token.erase(0, token.find_first_not_of(" \t"));
      token.erase(token.find_last_not_of(" \t") + 1);
      if (!token.empty()) named.push_back(token);
      at = comma + 1;
    }
  }
  HeaderList out;
  bool connection_upgrade = false;
  for (const auto& [name, value] : client_headers) {
    const std::string n = lower_name(name);
    if (n == "authorization" || is_client_impersonation_header(n)) continue;
    if (std::find(kHopByHop.begin(), kHopByHop.end(), n) != kHopByHop.end()) {
      if (upgrade && n == "upgrade") out.emplace_back(name, value);
      if (upgrade && n == "connection") connection_upgrade = true;
      continue;
    }
    if (std::find(named.begin(), named.end(), n) != named.end()) continue;
    out.emplace_back(name, value);
  }
  if (connection_upgrade) out.emplace_back("Connection", "Upgrade");
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
