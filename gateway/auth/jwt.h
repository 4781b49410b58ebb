// JSON Web Tokens as OIDC issuers sign them: JWKS parsing and JWS (compact form) verification
// through OpenSSL EVP. Only asymmetric algorithms are accepted (RS256/384/512, PS256/384/512,
// ES256/384, EdDSA); `none` and every HMAC algorithm are refused, and a key is used only with the
// algorithm family it belongs to (no RSA-key-as-HMAC-secret confusion). Pure code: no I/O.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace sluice::gateway::jwt {

struct PublicKey {
  std::string kid;
  std::string alg;  // from the JWK, may be empty
  std::shared_ptr<EVP_PKEY> key;
};

// The usable signing keys of a JWKS document ({"keys": [...]}). Keys of unknown type, for
// encryption ("use": "enc"), or malformed are skipped; `error` says why the document as a whole is
// unusable (nullopt) — not valid JSON, or no "keys" array.
std::optional<std::vector<PublicKey>> parse_jwks(std::string_view json, std::string& error);

struct Verified {
  nlohmann::json header;
  nlohmann::json claims;
};

struct VerifyResult {
  std::optional<Verified> token;
  std::string error;         // why not, for the gateway's log (never contains the token)
  bool unknown_key = false;  // the token names a kid that `keys` does not hold: refresh and retry
};

constexpr std::size_t kMaxTokenBytes = 16 * 1024;

// Checks structure, size, algorithm and signature. Claims are not validated here.
VerifyResult verify(std::string_view token, const std::vector<PublicKey>& keys);

// A compact JWS's payload as JSON, without any check: for choosing an issuer, scheduling a
// refresh, or reading claims of a token verify() accepted. A null json when it is not a JWT
// of at most kMaxTokenBytes whose payload is a JSON object.
nlohmann::json unverified_claims(std::string_view token);

}  // namespace sluice::gateway::jwt
