// How a stage refuses a request: nothing is forwarded, the refusal is logged and audited as
// denied (intent_audit_stage.h), and the client reads a Status with the reason.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "gateway/pipeline/chain.h"

namespace sluice::gateway::stages {

void refuse(pipeline::Chain& chain, int code, const std::string& message, const std::string& reason,
            nlohmann::json details = nullptr);

}  // namespace sluice::gateway::stages
