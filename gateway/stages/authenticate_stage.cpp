#include "gateway/stages/authenticate_stage.h"

#include <boost/beast/core/string.hpp>

#include <spdlog/spdlog.h>

namespace sluice::gateway::stages {

pipeline::Next AuthenticateStage::on_request(pipeline::RequestContext& ctx, pipeline::Chain& chain) {
  const std::string auth = ctx.header("Authorization");
  Credentials credentials;
  if (auth.size() > 7 && boost::beast::iequals(auth.substr(0, 7), "bearer ")) credentials.bearer_token = auth.substr(7);
  credentials.tls = ctx.tls;
  // OIDC may answer later, from its own thread: the answer comes back on the connection's strand.
  auth_.authenticate(std::move(credentials), chain.on_strand([&chain](std::optional<Identity> who, std::string why) {
    auto& c = chain.context();
    if (!who) {
      spdlog::info("401 {} {} from {}: {}", c.method, c.target, c.remote, why);
      return chain.send_local_reply(401, "Unauthorized", "Unauthorized");
    }
    c.identity = std::move(who);
    chain.continue_request();
  }));
  return pipeline::Next::Stop;
}

}  // namespace sluice::gateway::stages
