// The order every request goes through, written once (stage_order.cpp).
#pragma once
#include <memory>
#include <vector>

#include "gateway/pipeline/stage.h"
#include "gateway/server/proxy_context.h"
#include "gateway/ui/session_store.h"

namespace sluice::gateway {

// A request's stages, first to last, ending with the one that sends it to the cluster. Without
// `ui_sessions` there is no reviewer UI.
std::vector<std::unique_ptr<pipeline::Stage>> build_stages(ProxyContext& ctx, ui::SessionStore* ui_sessions);

}  // namespace sluice::gateway
