// What comes back from the cluster, as the client must see it: the hop-by-hop fields of the
// agent's hop dropped (Connection and Upgrade kept for a 101), and Content-Length dropped when
// the gateway rewrites the body (masking), which then streams with a length of its own.
#pragma once
#include "common/header_list.h"
#include "gateway/pipeline/chain.h"

namespace sluice::gateway {

// `head_request`: the request was a HEAD (its answer has no body, whatever its headers say).
pipeline::ResponseHead rewrite_response_head(int status, const HeaderList& upstream, bool body_rewritten,
                                             bool head_request);

// True for an answer without a body: HEAD, 1xx, 204, 304.
bool is_bodiless(int status, bool head_request);

}  // namespace sluice::gateway
