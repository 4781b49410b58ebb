// JWS verification and OIDC claim rules with keys generated per run by OpenSSL: every accepted
// algorithm, and every way a token must be refused.
#include <doctest/doctest.h>


#include <chrono>
#include <memory>
#include <string>

#include "common/base64.h"
#include "gateway/auth/jwt.h"
#include "gateway/auth/oidc_claims.h"
#include "tests/support/jwt_signer.h"

using namespace sluice::gateway;
using nlohmann::json;

namespace {

struct TestKey {
  std::shared_ptr<EVP_PKEY> key;
  json jwk;
};

TestKey make_key(const std::string& type, const std::string& kid) {
  TestKey k;
  if (type == "RSA") k.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), EVP_PKEY_free);
  else if (type == "Ed25519") k.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  else k.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", type.c_str()), EVP_PKEY_free);
  REQUIRE(k.key);
  k.jwk = sluice::test::public_jwk(k.key.get(), kid);
  return k;
}

std::string mint(const TestKey& k, const std::string& alg, const json& claims, json header = json::object()) {
  header["alg"] = alg;
  if (!header.contains("kid")) header["kid"] = k.jwk["kid"];
  const std::string input = sluice::common::base64url_encode(header.dump()) + "." + sluice::common::base64url_encode(claims.dump());
  return input + "." + sluice::common::base64url_encode(sluice::test::sign_jws(k.key.get(), alg, input));
}

std::vector<jwt::PublicKey> jwks_of(std::initializer_list<const TestKey*> keys) {
  json doc = {{"keys", json::array()}};
  for (const auto* k : keys) doc["keys"].push_back(k->jwk);
  std::string error;
  auto parsed = jwt::parse_jwks(doc.dump(), error);
  REQUIRE(parsed);
  return *parsed;
}

const auto kNow = std::chrono::system_clock::now();
double at(int seconds_from_now) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(kNow.time_since_epoch()).count() + seconds_from_now);
}

json good_claims() {
  return {{"iss", "https://issuer.test"}, {"aud", "sluice"}, {"sub", "u-123"}, {"email", "ann@example.com"},
          {"email_verified", true}, {"groups", {"dev", "ops"}}, {"exp", at(300)}, {"iat", at(-10)}};
}

}  // namespace

TEST_CASE("jwt: every accepted algorithm verifies, with its own key type only") {
  const auto rsa = make_key("RSA", "rsa"), p256 = make_key("P-256", "p256"), p384 = make_key("P-384", "p384"),
             ed = make_key("Ed25519", "ed");
  const auto keys = jwks_of({&rsa, &p256, &p384, &ed});
  REQUIRE(keys.size() == 4);
  for (auto [alg, key] : std::initializer_list<std::pair<const char*, const TestKey*>>{
           {"RS256", &rsa}, {"RS384", &rsa}, {"RS512", &rsa}, {"PS256", &rsa}, {"PS384", &rsa}, {"PS512", &rsa},
           {"ES256", &p256}, {"ES384", &p384}, {"EdDSA", &ed}}) {
    CAPTURE(alg);
    auto r = jwt::verify(mint(*key, alg, good_claims()), keys);
    REQUIRE_MESSAGE(r.token, r.error);
    CHECK(r.token->claims["sub"] == "u-123");
    // the same token claiming another key's kid: that key does not fit the algorithm or signature
    auto other = jwt::verify(mint(*key, alg, good_claims(), {{"kid", key == &rsa ? "p256" : "rsa"}}), keys);
    CHECK_FALSE(other.token);
  }
  // ES256 signed with a P-384 key labelled as the P-256 kid: refused
  CHECK_FALSE(jwt::verify(mint(p384, "ES384", good_claims(), {{"alg", "ES256"}, {"kid", "p256"}}), keys).token);
}

TEST_CASE("jwt: refusals") {
  const auto rsa = make_key("RSA", "rsa");
  const auto keys = jwks_of({&rsa});
  const std::string good = mint(rsa, "RS256", good_claims());
  const auto dot1 = good.find('.'), dot2 = good.rfind('.');
  auto with_header = [&](const json& header) {
    return sluice::common::base64url_encode(header.dump()) + good.substr(dot1);
  };
  SUBCASE("alg none") {
    auto r = jwt::verify(sluice::common::base64url_encode(R"({"alg":"none"})") + good.substr(dot1, dot2 - dot1) + ".", keys);
    CHECK_FALSE(r.token);
    CHECK(r.error.find("not accepted") != std::string::npos);
  }
  SUBCASE("HMAC with the RSA key's bytes as secret") {
    auto r = jwt::verify(with_header({{"alg", "HS256"}, {"kid", "rsa"}}), keys);
    CHECK_FALSE(r.token);
    CHECK(r.error.find("not accepted") != std::string::npos);
  }
  SUBCASE("tampered payload") {
    json claims = good_claims();
    claims["sub"] = "admin";
    auto r = jwt::verify(good.substr(0, dot1 + 1) + sluice::common::base64url_encode(claims.dump()) + good.substr(dot2), keys);
    CHECK_FALSE(r.token);
    CHECK(r.error == "invalid signature");
    CHECK_FALSE(r.unknown_key);
  }
  SUBCASE("signed by another key with the same kid") {
    const auto impostor = make_key("RSA", "rsa");
    auto r = jwt::verify(mint(impostor, "RS256", good_claims()), keys);
    CHECK_FALSE(r.token);
    CHECK(r.error == "invalid signature");
  }
  SUBCASE("unknown kid asks for a refresh") {
    const auto other = make_key("RSA", "rotated");
    auto r = jwt::verify(mint(other, "RS256", good_claims()), keys);
    CHECK_FALSE(r.token);
    CHECK(r.unknown_key);
  }
  SUBCASE("malformed") {
    for (const std::string& t : {std::string(""), std::string("abc"), std::string("a.b"), good + ".x",
                                 std::string("!!.??.**"), sluice::common::base64url_encode("[1]") + good.substr(dot1)}) {
      CAPTURE(t);
      auto r = jwt::verify(t, keys);
      CHECK_FALSE(r.token);
      CHECK(r.error.find("malformed") != std::string::npos);
    }
  }
  SUBCASE("critical extensions") {
    CHECK_FALSE(jwt::verify(mint(rsa, "RS256", good_claims(), {{"crit", {"exp"}}}), keys).token);
  }
  SUBCASE("over the size limit") {
    json claims = good_claims();
    claims["pad"] = std::string(jwt::kMaxTokenBytes, 'x');
    auto r = jwt::verify(mint(rsa, "RS256", claims), keys);
    CHECK_FALSE(r.token);
    CHECK(r.error.find("larger than") != std::string::npos);
  }
  SUBCASE("JWKS documents") {
    std::string error;
    CHECK_FALSE(jwt::parse_jwks("not json", error));
    CHECK_FALSE(jwt::parse_jwks(R"({"nokeys":1})", error));
    auto parsed = jwt::parse_jwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"RSA","n":"!!","e":"AQAB"},
      {"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]})", error);
    REQUIRE(parsed);
    CHECK(parsed->empty());  // a symmetric key and broken keys are never usable
  }
}

TEST_CASE("oidc: claim rules") {
  oidc::ClaimRules rules;
  rules.issuer = "https://issuer.test";
  rules.audiences = {"kubernetes", "sluice"};
  rules.username_claim = "email";
  rules.username_prefix = "oidc:";
  rules.groups_claim = "groups";
  rules.groups_prefix = "oidc:";
  std::string error;
  auto who = oidc::identity_from_claims(good_claims(), rules, kNow, error);
  REQUIRE_MESSAGE(who, error);
  CHECK(who->user == "oidc:ann@example.com");
  CHECK(who->groups == std::vector<std::string>{"oidc:dev", "oidc:ops"});
  CHECK(who->method == "oidc");
  CHECK(who->extra.at("sluice.dev/oidc-issuer") == std::vector<std::string>{"https://issuer.test"});
  CHECK(who->extra.at("sluice.dev/oidc-subject") == std::vector<std::string>{"u-123"});

  auto refused = [&](json claims, const std::string& why, oidc::ClaimRules r) {
    std::string e;
    CHECK_FALSE(oidc::identity_from_claims(claims, r, kNow, e));
    CHECK_MESSAGE(e.find(why) != std::string::npos, e);
  };
  auto with = [](const char* key, json value) {
    json c = good_claims();
    if (value.is_null()) c.erase(key);
    else c[key] = value;
    return c;
  };
  refused(with("iss", "https://evil.test"), "wrong issuer", rules);
  refused(with("aud", "someone-else"), "wrong audience", rules);
  refused(with("aud", json::array({"a", "b"})), "wrong audience", rules);
  refused(with("aud", nullptr), "wrong audience", rules);
  refused(with("exp", at(-120)), "expired", rules);
  refused(with("exp", nullptr), "no expiry", rules);
  refused(with("nbf", at(300)), "not yet valid", rules);
  refused(with("email_verified", false), "not verified", rules);
  refused(with("email", nullptr), "username claim", rules);
  refused(with("groups", json::array({"ok", 3})), "non-string", rules);
  // within the clock skew
  CHECK(oidc::identity_from_claims(with("exp", at(-30)), rules, kNow, error));
  CHECK(oidc::identity_from_claims(with("nbf", at(30)), rules, kNow, error));
  CHECK(oidc::identity_from_claims(with("aud", json::array({"x", "kubernetes"})), rules, kNow, error));

  // GitHub Actions: a required claim pins the repository; the subject is the user
  oidc::ClaimRules ci = rules;
  ci.username_claim = "sub";
  ci.username_prefix = "github:";
  ci.groups_claim = "";
  ci.required_claims = {{"repository", "acme/deploy"}};
  refused(good_claims(), "required claim \"repository\"", ci);
  refused(with("repository", "acme/other"), "required claim \"repository\"", ci);
  auto bot = oidc::identity_from_claims(with("repository", "acme/deploy"), ci, kNow, error);
  REQUIRE(bot);
  CHECK(bot->user == "github:u-123");
  CHECK(bot->groups.empty());
}

TEST_CASE("jwt: unverified_claims reads a payload, and nothing that is not a JWT") {
  using sluice::gateway::jwt::unverified_claims;
  const std::string payload = sluice::common::base64url_encode(R"({"iss":"https://idp","exp":42})");
  CHECK(unverified_claims("e30." + payload + ".sig")["exp"] == 42);
  CHECK(unverified_claims("e30." + payload).is_null());  // one dot: no JWS
  CHECK(unverified_claims("e30.!!!.sig").is_null());
  CHECK(unverified_claims("e30." + sluice::common::base64url_encode("[1]") + ".sig").is_null());  // not an object
  CHECK(unverified_claims("e30." + payload + "." + std::string(20000, 'a')).is_null());            // over 16 KiB
}
