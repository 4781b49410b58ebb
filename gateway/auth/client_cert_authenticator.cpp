#include "gateway/auth/client_cert_authenticator.h"

#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace sluice::gateway {
namespace {

std::vector<std::string> subject_entries(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0; i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) continue;
    out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
  }
  return out;
}

}  // namespace

std::optional<Identity> identity_from_client_certificate(SSL* ssl) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get_peer_certificate(ssl), X509_free);
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  auto cn = subject_entries(subject, NID_commonName);
  if (cn.empty() || cn.front().empty()) return std::nullopt;
  Identity who;
  who.user = cn.front();
  who.groups = subject_entries(subject, NID_organizationName);
  who.method = "x509";
  return who;
}

bool ClientCertAuthenticator::applies(const Credentials& credentials) const {
  return credentials.tls && SSL_get0_peer_certificate(credentials.tls) != nullptr;
}

void ClientCertAuthenticator::authenticate(const Credentials& credentials, Done done) {
  auto who = identity_from_client_certificate(credentials.tls);
  done(std::move(who), who ? "" : "the client certificate did not verify or names no user (CN)");
}

void require_client_certificates_from(SSL_CTX* ctx, const std::string& ca_file) {
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1)
    throw std::runtime_error("cannot load the client CA file " + ca_file);
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
  if (!names) throw std::runtime_error("no CA certificate in the client CA file " + ca_file);
  SSL_CTX_set_client_CA_list(ctx, names);
  // VERIFY_PEER without FAIL_IF_NO_PEER_CERT: a certificate is verified when one is sent (a bad
  // one fails the handshake), and bearer-token clients send none.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // With VERIFY_PEER, OpenSSL refuses to resume a session (a browser's second connection) unless
  // the context names its sessions: the handshake would end in an alert.
  static const unsigned char kSessionContext[] = "sluice-gateway";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
}

}  // namespace sluice::gateway
