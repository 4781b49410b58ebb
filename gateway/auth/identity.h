// Who is calling, as the authenticators establish it and impersonation forwards it.
#pragma once
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

}  // namespace sluice::gateway
