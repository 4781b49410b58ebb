// Who is calling, as the authenticators establish it and impersonation forwards it.
#pragma once
#include <string>
#include <vector>

namespace sluice::gateway {

struct Identity {
  std::string user;
  std::string uid;
  std::vector<std::string> groups;
  std::string method;  // "static-token", later "oidc", "x509"
};

}  // namespace sluice::gateway
