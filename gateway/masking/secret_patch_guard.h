// A JSON Patch can make the API server copy a Secret's value to a field masking does not cover
// (`{"op":"copy","from":"/data/password","path":"/metadata/annotations/x"}`), or confirm a guess
// (`{"op":"test","path":"/data/password","value":"..."}`). Such patches of Secrets are refused
// before policy runs; everything else passes.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/request_info.h"

namespace sluice::gateway::masking {

// A sentence for the client when the request is a JSON Patch of a Secret that copies, moves or
// tests a value (data, stringData, the whole object, its metadata or annotations), or a JSON
// Patch the gateway cannot read; nullopt otherwise.
std::optional<std::string> refuse_secret_patch(const common::RequestInfo& info, std::string_view content_type,
                                               std::string_view body);

}  // namespace sluice::gateway::masking
