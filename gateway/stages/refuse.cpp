#include "gateway/stages/refuse.h"

#include <spdlog/spdlog.h>

namespace sluice::gateway::stages {

void refuse(pipeline::Chain& chain, int code, const std::string& message, const std::string& reason,
            nlohmann::json details) {
  auto& ctx = chain.context();
  // the raw target: a decoded path may hold control characters
  spdlog::info("{} {} {} on {} for {}: {}", code, ctx.info.verb, ctx.cluster_target, ctx.cluster,
               ctx.identity ? ctx.identity->user : "", message);
  ctx.refusal = message;
  chain.send_local_reply(code, message, reason, {}, std::move(details));
}

}  // namespace sluice::gateway::stages
