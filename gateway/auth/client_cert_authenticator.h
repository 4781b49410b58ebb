// Client certificates, as kube-apiserver's --client-ca-file: the TLS handshake has verified the
// chain against the configured client CA; the subject's CN is the user and each O a group.
#pragma once
#include <optional>

#include <openssl/ssl.h>

#include "gateway/auth/authenticator.h"
#include "gateway/auth/identity.h"

namespace sluice::gateway {

// The caller named by the connection's verified client certificate; nullopt when the client sent
// none, verification did not pass, or the certificate has no CN.
std::optional<Identity> identity_from_client_certificate(SSL* ssl);

// Makes `ctx` ask for a client certificate (optional: token clients send none) and verify it
// against the CAs in `ca_file`. Throws std::runtime_error naming the file when it is unusable.
void require_client_certificates_from(SSL_CTX* ctx, const std::string& ca_file);

class ClientCertAuthenticator : public Authenticator {
 public:
  std::string_view name() const override { return "x509"; }
  bool applies(const Credentials& credentials) const override;
  void authenticate(const Credentials& credentials, Done done) override;
};

}  // namespace sluice::gateway
