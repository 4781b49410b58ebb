// agent/deploy/*.yaml, embedded into sluice-gateway at build time (gateway/ui/embed_assets.cmake).
#pragma once
#include <string_view>

namespace sluice::gateway::cli::agent_deploy {

struct Asset {
  std::string_view content_type;
  std::string_view body;
};

// The file `path` of agent/deploy ("deployment.yaml"); nullptr when there is none.
const Asset* find_asset(std::string_view path);

}  // namespace sluice::gateway::cli::agent_deploy
