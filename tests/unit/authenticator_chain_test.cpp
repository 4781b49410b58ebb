// The authenticator chain: order, fall-through on refusal, skipping what does not apply, and a
// late (asynchronous) answer continuing the chain.
#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "gateway/auth/authenticator.h"

using namespace sluice::gateway;

namespace {

struct Fake : Authenticator {
  std::string label;
  std::function<bool(const Credentials&)> applies_if;
  std::optional<std::string> accepts_as;  // user name when it accepts
  Done parked;                            // when set by `park`, the answer comes later
  bool park = false;
  int calls = 0;
  std::string_view name() const override { return label; }
  bool applies(const Credentials& c) const override { return applies_if(c); }
  void authenticate(const Credentials&, Done done) override {
    ++calls;
    if (park) {
      parked = std::move(done);
      return;
    }
    if (accepts_as) return done(Identity{*accepts_as, "", {}, {}, label}, "");
    done(std::nullopt, label + " says no");
  }
};

std::shared_ptr<Fake> fake(std::string label, bool applies, std::optional<std::string> accepts) {
  auto f = std::make_shared<Fake>();
  f->label = std::move(label);
  f->applies_if = [applies](const Credentials&) { return applies; };
  f->accepts_as = std::move(accepts);
  return f;
}

struct Answer {
  std::optional<Identity> who;
  std::string why;
  int count = 0;
};

Authenticator::Done record(Answer& a) {
  return [&a](std::optional<Identity> who, std::string why) {
    a.who = std::move(who);
    a.why = std::move(why);
    ++a.count;
  };
}

}  // namespace

TEST_CASE("the first authenticator that accepts wins - refusals fall through in order") {
  auto cert = fake("x509", false, "not-used"), tokens = fake("static-token", true, std::nullopt),
       oidc = fake("oidc", true, "oidc:ann");
  AuthenticatorChain chain;
  chain.add(cert);
  chain.add(tokens);
  chain.add(oidc);
  Answer a;
  chain.authenticate({"tok", nullptr}, record(a));
  CHECK(a.count == 1);
  REQUIRE(a.who);
  CHECK(a.who->user == "oidc:ann");
  CHECK(cert->calls == 0);  // did not apply
  CHECK(tokens->calls == 1);
  CHECK(chain.names() == std::vector<std::string>{"x509", "static-token", "oidc"});
}

TEST_CASE("nobody accepts: the reason names each authenticator that tried") {
  AuthenticatorChain chain;
  chain.add(fake("static-token", true, std::nullopt));
  chain.add(fake("oidc", true, std::nullopt));
  Answer a;
  chain.authenticate({"tok", nullptr}, record(a));
  CHECK(a.count == 1);
  CHECK_FALSE(a.who);
  CHECK(a.why == "static-token: static-token says no; oidc: oidc says no");
  Answer none;
  AuthenticatorChain empty_chain;
  empty_chain.authenticate({"", nullptr}, record(none));
  CHECK(none.why == "no credentials");
}

TEST_CASE("an answer that comes later continues the chain from there") {
  auto slow = fake("oidc", true, std::nullopt);
  slow->park = true;
  auto last = fake("last", true, "late-user");
  AuthenticatorChain chain;
  chain.add(slow);
  chain.add(last);
  Answer a;
  chain.authenticate({"tok", nullptr}, record(a));
  CHECK(a.count == 0);  // still waiting
  CHECK(last->calls == 0);
  REQUIRE(slow->parked);
  slow->parked(std::nullopt, "keys fetched, kid unknown");
  CHECK(a.count == 1);
  REQUIRE(a.who);
  CHECK(a.who->user == "late-user");
}
