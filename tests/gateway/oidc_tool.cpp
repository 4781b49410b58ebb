// A test identity provider's key tools (tests only):
//   oidc_tool keygen DIR KID TYPE      TYPE: RSA | P-256 | P-384 | Ed25519 -> DIR/KID.pem
//   oidc_tool jwks DIR KID...          prints a JWKS with the public halves of those keys
//   oidc_tool mint DIR KID ALG 'CLAIMS_JSON' ['HEADER_JSON']   prints a signed token
// "ALG" may be anything (none, HS256...) to build tokens the gateway must refuse; an unknown
// algorithm is signed as RS256 with the key so only the header lies.
#include <openssl/pem.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "tests/support/jwt_signer.h"

using nlohmann::json;

namespace {

[[noreturn]] void die(const std::string& why) {
  std::cerr << "oidc_tool: " << why << "\n";
  std::exit(2);
}

EVP_PKEY* load(const std::string& dir, const std::string& kid) {
  FILE* f = std::fopen((dir + "/" + kid + ".pem").c_str(), "r");
  if (!f) die("no key " + kid);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!key) die("unreadable key " + kid);
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "keygen" && argc == 5) {
    const std::string type = argv[4];
    EVP_PKEY* key = type == "RSA"       ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                    : type == "Ed25519" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", type.c_str());
    if (!key) die("cannot generate " + type);
    FILE* f = std::fopen((std::string(argv[2]) + "/" + argv[3] + ".pem").c_str(), "w");
    if (!f || PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) die("cannot write the key");
    std::fclose(f);
    EVP_PKEY_free(key);
    return 0;
  }
  if (cmd == "jwks" && argc >= 3) {
    json doc = {{"keys", json::array()}};
    for (int i = 3; i < argc; ++i) {
      EVP_PKEY* key = load(argv[2], argv[i]);
      doc["keys"].push_back(sluice::test::public_jwk(key, argv[i]));
      EVP_PKEY_free(key);
    }
    std::cout << doc.dump() << "\n";
    return 0;
  }
  if (cmd == "mint" && (argc == 6 || argc == 7)) {
    EVP_PKEY* key = load(argv[2], argv[3]);
    json header = argc == 7 ? json::parse(argv[6]) : json::object();
    header["alg"] = argv[4];
    if (!header.contains("kid")) header["kid"] = argv[3];
    if (header["kid"].is_null()) header.erase("kid");
    const std::string input =
        sluice::common::base64url_encode(header.dump()) + "." + sluice::common::base64url_encode(json::parse(argv[5]).dump());
    std::cout << input << "." << sluice::common::base64url_encode(sluice::test::sign_jws(key, argv[4], input)) << "\n";
    EVP_PKEY_free(key);
    return 0;
  }
  die("usage: keygen DIR KID TYPE | jwks DIR KID... | mint DIR KID ALG CLAIMS [HEADER]");
}
