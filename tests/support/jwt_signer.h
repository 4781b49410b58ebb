// Signing side of JWTs for tests (the unit tests and the test identity provider's key tool):
// a private key's public JWK, and JWS signatures in the form issuers produce.
#pragma once
#include <string>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace sluice::test {

// The public half of `key` (RSA, EC P-256/P-384 or Ed25519) as a JWK with "kid" and "use": "sig".
nlohmann::json public_jwk(EVP_PKEY* key, const std::string& kid);

// The JWS signature of `input` for `alg` (RS*, PS*, ES*, EdDSA; ECDSA as r || s). "none" gives an
// empty signature and HS* an HMAC keyed with the public JWK's text (the key-confusion attack),
// for tokens a verifier must refuse.
std::string sign_jws(EVP_PKEY* key, const std::string& alg, const std::string& input);

}  // namespace sluice::test
