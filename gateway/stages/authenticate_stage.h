// Who sends the request: client certificate, static token or OIDC (gateway/auth/). 401 otherwise.
#pragma once
#include "gateway/auth/authenticator.h"
#include "gateway/pipeline/chain.h"

namespace sluice::gateway::stages {

class AuthenticateStage : public pipeline::Stage {
 public:
  explicit AuthenticateStage(const AuthenticatorChain& auth) : auth_(auth) {}
  const char* name() const override { return "authenticate"; }
  pipeline::Next on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) override;

 private:
  const AuthenticatorChain& auth_;
};

}  // namespace sluice::gateway::stages
