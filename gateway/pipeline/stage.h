// One step of a request's way through the gateway (Envoy's HTTP filter, ../shared/STYLE.md §1).
// A stage object lives for one request: per-request state is its members, never reset by hand.
//
// on_request runs in chain order. Continue hands the request to the next stage; Stop means the
// stage has taken it: it later calls chain.continue_request() (its wait is over) or
// chain.send_local_reply() (the request ends here), from a handler on the connection's strand.
// on_complete runs exactly once for every stage whose on_request ran, in reverse order, when the
// request ends for whatever reason. on_destroy runs first when the client went away while this
// stage held the request: it cancels what it waits for.
#pragma once
#include "gateway/pipeline/request_context.h"

namespace sluice::gateway::pipeline {

class Chain;

enum class Next { Continue, Stop };

class Stage {
 public:
  virtual ~Stage() = default;
  virtual const char* name() const = 0;
  virtual Next on_request(RequestContext& ctx, Chain& chain) = 0;
  virtual void on_complete(const RequestContext&) {}
  virtual void on_destroy(RequestContext&) {}
};

}  // namespace sluice::gateway::pipeline
