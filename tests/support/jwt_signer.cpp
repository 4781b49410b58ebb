#include "tests/support/jwt_signer.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <stdexcept>

#include "common/base64.h"

namespace sluice::test {

using nlohmann::json;

namespace {
std::string bn(EVP_PKEY* key, const char* name) {
  BIGNUM* b = nullptr;
  EVP_PKEY_get_bn_param(key, name, &b);
  std::string out(static_cast<std::size_t>(BN_num_bytes(b)), '\0');
  BN_bn2bin(b, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(b);
  return out;
}

}  // namespace

json public_jwk(EVP_PKEY* key, const std::string& kid) {
  json j = {{"kid", kid}, {"use", "sig"}};
  if (EVP_PKEY_is_a(key, "RSA")) {
    j["kty"] = "RSA";
    j["n"] = sluice::common::base64url_encode(bn(key, OSSL_PKEY_PARAM_RSA_N));
    j["e"] = sluice::common::base64url_encode(bn(key, OSSL_PKEY_PARAM_RSA_E));
  } else if (EVP_PKEY_is_a(key, "EC")) {
    unsigned char point[256];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len);
    const size_t half = (len - 1) / 2;
    j["kty"] = "EC";
    j["crv"] = half == 32 ? "P-256" : "P-384";
    j["x"] = sluice::common::base64url_encode(std::string(reinterpret_cast<char*>(point) + 1, half));
    j["y"] = sluice::common::base64url_encode(std::string(reinterpret_cast<char*>(point) + 1 + half, half));
  } else {
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(key, raw, &len);
    j["kty"] = "OKP";
    j["crv"] = "Ed25519";
    j["x"] = sluice::common::base64url_encode(std::string(reinterpret_cast<char*>(raw), len));
  }
  return j;
}

std::string sign_jws(EVP_PKEY* key, const std::string& alg, const std::string& input) {
  if (alg == "none") return "";
  if (alg.rfind("HS", 0) == 0) {  // HMAC keyed with the public key's JWK text: the classic confusion attack
    const std::string secret = public_jwk(key, "").dump();
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
  }
  const bool ed = EVP_PKEY_is_a(key, "ED25519");
  const std::string bits = alg.size() >= 5 ? alg.substr(2) : "256";
  const EVP_MD* md = ed ? nullptr : bits == "384" ? EVP_sha384() : bits == "512" ? EVP_sha512() : EVP_sha256();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx, &pctx, md, nullptr, key) != 1) throw std::runtime_error("sign init");
  if (alg[0] == 'P') {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    throw std::runtime_error("sign");
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (EVP_PKEY_is_a(key, "EC")) {
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    const int half = (EVP_PKEY_get_bits(key) + 7) / 8;
    std::string raw(static_cast<std::size_t>(2 * half), '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), half);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + half, half);
    ECDSA_SIG_free(es);
    return raw;
  }
  return sig;
}

}  // namespace sluice::test
