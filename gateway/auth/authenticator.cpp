#include "gateway/auth/authenticator.h"

namespace sluice::gateway {

void AuthenticatorChain::authenticate(Credentials credentials, Authenticator::Done done) const {
  try_from(0, std::make_shared<Credentials>(std::move(credentials)), "", std::move(done));
}

void AuthenticatorChain::try_from(std::size_t index, std::shared_ptr<Credentials> credentials, std::string reasons,
                                  Authenticator::Done done) const {
  for (; index < chain_.size(); ++index) {
    if (!chain_[index]->applies(*credentials)) continue;
    const std::string name(chain_[index]->name());
    // The chain outlives every request (it is built once at start); an asynchronous authenticator
    // continues the chain from its own thread, where the remaining ones are still safe to call.
    chain_[index]->authenticate(*credentials, [this, index, credentials, reasons, name,
                                               done = std::move(done)](std::optional<Identity> who,
                                                                       std::string why) mutable {
      if (who) return done(std::move(who), "");
      try_from(index + 1, credentials, reasons + (reasons.empty() ? "" : "; ") + name + ": " + why, std::move(done));
    });
    return;
  }
  done(std::nullopt, reasons.empty() ? (credentials->bearer_token.empty() ? "no credentials" : "no authenticator "
                                                                                               "accepts the token")
                                     : reasons);
}

std::vector<std::string> AuthenticatorChain::names() const {
  std::vector<std::string> out;
  for (const auto& a : chain_) out.emplace_back(a->name());
  return out;
}

}  // namespace sluice::gateway
