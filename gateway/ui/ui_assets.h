// The UI's files (gateway/ui/static/), embedded into sluice-gateway at build time
// (embed_assets.cmake), so the binary stays one file.
#pragma once
#include <string_view>

namespace sluice::gateway::ui {

struct Asset {
  std::string_view content_type;
  std::string_view body;
};

// The file at `path` below /ui/ ("index.html", "app.js"); nullptr when there is none.
const Asset* find_asset(std::string_view path);

}  // namespace sluice::gateway::ui
