// Who is calling, as the authenticators establish it and impersonation forwards it.
#pragma once
#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace sluice::gateway {

struct Identity {
  std::string user;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;  // e.g. the OIDC issuer and subject
  std::string method;  // "static-token", "x509", "oidc"
};

// Whether the caller is in one of `groups` (viewer and reader lists of the REST APIs and /metrics).
inline bool in_any_group(const Identity& who, const std::vector<std::string>& groups) {
  return std::any_of(who.groups.begin(), who.groups.end(),
                     [&](const std::string& g) { return std::find(groups.begin(), groups.end(), g) != groups.end(); });
}

}  // namespace sluice::gateway
