// The one interface every way of logging in implements (client certificate, static token, OIDC),
// and the chain that tries them in kube-apiserver's order: the first that accepts the caller wins.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "gateway/auth/identity.h"

namespace sluice::gateway {

// What a request presents: the bearer token ("" if none) and the TLS connection (for a client
// certificate the handshake has verified).
struct Credentials {
  std::string bearer_token;
  SSL* tls = nullptr;
};

class Authenticator {
 public:
  // The caller, or nullopt and why not (for the gateway's log; never the credential itself).
  using Done = std::function<void(std::optional<Identity>, std::string)>;
  virtual ~Authenticator() = default;
  virtual std::string_view name() const = 0;
  // Cheap: whether these credentials are this authenticator's to judge.
  virtual bool applies(const Credentials& credentials) const = 0;
  // Calls `done` exactly once, at once or later from another thread.
  virtual void authenticate(const Credentials& credentials, Done done) = 0;
};

class AuthenticatorChain {
 public:
  void add(std::shared_ptr<Authenticator> authenticator) { chain_.push_back(std::move(authenticator)); }
  // Tries each authenticator that applies, in order, until one accepts. `done` is called once;
  // with nullopt the reason lists what each tried authenticator said.
  void authenticate(Credentials credentials, Authenticator::Done done) const;
  std::vector<std::string> names() const;

 private:
  void try_from(std::size_t index, std::shared_ptr<Credentials> credentials, std::string reasons,
                Authenticator::Done done) const;
  std::vector<std::shared_ptr<Authenticator>> chain_;
};

}  // namespace sluice::gateway
