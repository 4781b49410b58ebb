// The order every request goes through, written once (stage_order.cpp).
#pragma once
#include <memory>
#include <vector>

#include "gateway/pipeline/stage.h"
#include "gateway/server/proxy_context.h"
#include "gateway/ui/ui_routes.h"

namespace sluice::gateway {

// A request's stages, first to last, ending with the one that sends it to the cluster. Without
// `ui` there is no reviewer UI.
std::vector<std::unique_ptr<pipeline::Stage>> build_stages(ProxyContext& ctx, ui::UiServices* ui);

}  // namespace sluice::gateway
