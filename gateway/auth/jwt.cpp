#include "gateway/auth/jwt.h"

#include "common/base64.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <array>
#include <cstring>

namespace sluice::gateway::jwt {
namespace {

enum class Family { rsa_pkcs1, rsa_pss, ecdsa, eddsa };

struct Algorithm {
  std::string_view name;
  Family family;
  const EVP_MD* (*digest)();
  std::string_view curve;  // ECDSA: the OpenSSL group the key must be on
  std::size_t ecdsa_half;  // ECDSA: bytes of r (and of s) in the JWS signature
};

const EVP_MD* no_digest() { return nullptr; }

const std::array<Algorithm, 9> kAlgorithms{{
    {"RS256", Family::rsa_pkcs1, EVP_sha256, "", 0},
    {"RS384", Family::rsa_pkcs1, EVP_sha384, "", 0},
    {"RS512", Family::rsa_pkcs1, EVP_sha512, "", 0},
    {"PS256", Family::rsa_pss, EVP_sha256, "", 0},
    {"PS384", Family::rsa_pss, EVP_sha384, "", 0},
    {"PS512", Family::rsa_pss, EVP_sha512, "", 0},
    {"ES256", Family::ecdsa, EVP_sha256, "prime256v1", 32},
    {"ES384", Family::ecdsa, EVP_sha384, "secp384r1", 48},
    {"EdDSA", Family::eddsa, no_digest, "", 0},
}};

const Algorithm* find_algorithm(std::string_view name) {
  for (const auto& a : kAlgorithms)
    if (a.name == name) return &a;
  return nullptr;
}

using PkeyPtr = std::shared_ptr<EVP_PKEY>;
PkeyPtr own(EVP_PKEY* p) { return PkeyPtr(p, EVP_PKEY_free); }

std::string group_name(EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) return "";
  return std::string(name, len);
}

// Whether `key` may be used with `alg`: RSA keys of at least 2048 bits for RS*/PS*, EC keys on the
// algorithm's own curve for ES*, Ed25519 for EdDSA.
bool key_fits(const Algorithm& alg, EVP_PKEY* key) {
  switch (alg.family) {
    case Family::rsa_pkcs1:
    case Family::rsa_pss:
      return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    case Family::ecdsa:
      return EVP_PKEY_is_a(key, "EC") && group_name(key) == alg.curve;
    case Family::eddsa:
      return EVP_PKEY_is_a(key, "ED25519");
  }
  return false;
}

PkeyPtr from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1) EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return own(key);
}

PkeyPtr rsa_key(const std::string& n, const std::string& e) {
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  PkeyPtr key = own(nullptr);
  if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
    key = from_params("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return key;
}

PkeyPtr ec_key(const std::string& crv, const std::string& x, const std::string& y) {
  const char* group = crv == "P-256" ? "prime256v1" : crv == "P-384" ? "secp384r1" : nullptr;
  const std::size_t size = crv == "P-256" ? 32 : 48;
  if (!group || x.size() != size || y.size() != size) return own(nullptr);
  std::string point = "\x04" + x + y;  // uncompressed
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  PkeyPtr key = own(nullptr);
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1)
    key = from_params("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  return key;
}

std::optional<std::string> member_bytes(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return common::base64url_decode(it->get<std::string>());
}

PkeyPtr key_from_jwk(const nlohmann::json& jwk) {
  const std::string kty = jwk.value("kty", "");
  if (kty == "RSA") {
    auto n = member_bytes(jwk, "n"), e = member_bytes(jwk, "e");
    return n && e ? rsa_key(*n, *e) : own(nullptr);
  }
  if (kty == "EC") {
    auto x = member_bytes(jwk, "x"), y = member_bytes(jwk, "y");
    return x && y ? ec_key(jwk.value("crv", ""), *x, *y) : own(nullptr);
  }
  if (kty == "OKP" && jwk.value("crv", "") == "Ed25519") {
    auto x = member_bytes(jwk, "x");
    if (!x || x->size() != 32) return own(nullptr);
    return own(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                           reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  }
  return own(nullptr);
}

// JWS carries ECDSA signatures as r || s; OpenSSL verifies DER.
std::optional<std::string> ecdsa_raw_to_der(const std::string& raw, std::size_t half) {
  if (raw.size() != 2 * half) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(p, static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(p + half, static_cast<int>(half), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool signature_valid(const Algorithm& alg, EVP_PKEY* key, std::string_view input, const std::string& signature) {
  std::string sig = signature;
  if (alg.family == Family::ecdsa) {
    auto der = ecdsa_raw_to_der(signature, alg.ecdsa_half);
    if (!der) return false;
    sig = std::move(*der);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, alg.digest(), nullptr, key) == 1;
  if (ok && alg.family == Family::rsa_pss)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  ok = ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                              reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

std::optional<std::vector<PublicKey>> parse_jwks(std::string_view json, std::string& error) {
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    error = "the JWKS is not a JSON object";
    return std::nullopt;
  }
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    error = "the JWKS has no \"keys\" array";
    return std::nullopt;
  }
  std::vector<PublicKey> out;
  for (const auto& jwk : *keys) {
    if (!jwk.is_object() || jwk.value("use", "sig") != "sig") continue;
    auto key = key_from_jwk(jwk);
    if (!key) continue;
    out.push_back({jwk.value("kid", ""), jwk.value("alg", ""), std::move(key)});
  }
  return out;
}

VerifyResult verify(std::string_view token, const std::vector<PublicKey>& keys) {
  VerifyResult r;
  if (token.size() > kMaxTokenBytes) {
    r.error = "token larger than " + std::to_string(kMaxTokenBytes) + " bytes";
    return r;
  }
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    r.error = "malformed token: not three dot-separated parts (encrypted tokens are not supported)";
    return r;
  }
  auto header_bytes = common::base64url_decode(token.substr(0, dot1));
  auto payload_bytes = common::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = common::base64url_decode(token.substr(dot2 + 1));
  if (!header_bytes || !payload_bytes || !signature) {
    r.error = "malformed token: invalid base64url";
    return r;
  }
  auto header = nlohmann::json::parse(*header_bytes, nullptr, false);
  auto claims = nlohmann::json::parse(*payload_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object() || claims.is_discarded() || !claims.is_object()) {
    r.error = "malformed token: header or payload is not a JSON object";
    return r;
  }
  if (header.contains("crit")) {
    r.error = "token header has critical extensions (\"crit\") this gateway does not implement";
    return r;
  }
  const auto alg_it = header.find("alg");
  const std::string alg_name = alg_it != header.end() && alg_it->is_string() ? alg_it->get<std::string>() : "";
  const Algorithm* alg = find_algorithm(alg_name);
  if (!alg) {
    r.error = "token algorithm \"" + alg_name + "\" is not accepted (asymmetric signatures only; never none or HMAC)";
    return r;
  }
  const auto kid_it = header.find("kid");
  const bool has_kid = kid_it != header.end() && kid_it->is_string();
  const std::string kid = has_kid ? kid_it->get<std::string>() : "";
  const std::string_view signing_input = token.substr(0, dot2);
  bool key_found = false;
  for (const auto& k : keys) {
    if (has_kid && k.kid != kid) continue;
    if (!k.alg.empty() && k.alg != alg->name) continue;
    if (!key_fits(*alg, k.key.get())) continue;
    key_found = true;
    if (signature_valid(*alg, k.key.get(), signing_input, *signature)) {
      r.token = Verified{std::move(header), std::move(claims)};
      return r;
    }
    if (has_kid) break;
  }
  if (!key_found) {
    r.unknown_key = true;
    r.error = has_kid ? "no " + alg_name + " key with kid \"" + kid + "\" among the issuer's keys"
                      : "no " + alg_name + " key among the issuer's keys";
    return r;
  }
  r.error = "invalid signature";
  return r;
}

nlohmann::json unverified_claims(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return nullptr;
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return nullptr;
  auto payload = common::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) return nullptr;
  auto claims = nlohmann::json::parse(*payload, nullptr, false);
  return claims.is_object() ? claims : nlohmann::json();
}

}  // namespace sluice::gateway::jwt
