// One step of a request's way through the gateway (Envoy's HTTP filter, ../shared/STYLE.md §1).
// A stage object lives for one request: per-request state is its members, never reset by hand.
//
// on_request runs in chain order. Continue hands the request to the next stage; Stop means the
// stage has taken it: it later calls chain.continue_request() (its wait is over) or
// chain.send_local_reply() (the request ends here), from a handler on the connection's strand.
// on_complete runs exactly once for every stage whose on_request ran, in reverse order, when the
// request ends for whatever reason. on_destroy runs first when the client went away while this
// stage held the request: it cancels what it waits for.
//
// The way back (Envoy's encoder filters): the terminal stage hands the cluster's answer to the
// chain, which passes it through every stage whose on_request ran, nearest the cluster first
// (reverse order), so a stage sees what the stages after it made of the answer: recording, ahead
// of response masking, records what the client gets. The upgraded stream's bytes from the client
// pass in order (on_request_data). A refusal keeps the answer from the client: before the head it
// becomes a 502, after it the response is cut off (fail closed).
#pragma once
#include <string>

#include "common/result.h"
#include "gateway/pipeline/request_context.h"

namespace sluice::gateway::pipeline {

class Chain;

enum class Next { Continue, Stop };

// The cluster's answer head as the agent relayed it, before the front rewrites it for the client.
struct ResponseStart {
  int status = 0;
  const HeaderList& headers;   // the cluster's fields, as sent
  bool bodiless = false;       // HEAD, 1xx, 204, 304 (a 101 has upgraded bytes instead)
  bool upgraded = false;       // 101: the data that follow are the upgraded stream's
  bool body_rewritten = false; // set by a stage that changes the body: its Content-Length goes
  std::string header(std::string_view name) const;
};

using Passed = common::Result<common::Done>;  // an Error: the answer must not reach the client

class Stage {
 public:
  virtual ~Stage() = default;
  virtual const char* name() const = 0;
  virtual Next on_request(RequestContext& ctx, Chain& chain) = 0;
  // A head is always followed by on_response_data with the body that came with it (maybe empty).
  virtual Passed on_response_head(RequestContext&, ResponseStart&) { return common::Done{}; }
  // Body bytes, or upgraded bytes from the cluster; `end` with the last piece. May rewrite `data`.
  virtual Passed on_response_data(RequestContext&, std::string& /*data*/, bool /*end*/) { return common::Done{}; }
  // Upgraded bytes from the client, on their way to the cluster.
  virtual void on_request_data(RequestContext&, const std::string& /*data*/) {}
  // A stage that holds back a tail of the answer (a detector waiting for the rest of a secret)...
  virtual bool holding() const { return false; }
  // ...passes it on into `out` when nothing came from the cluster for a while.
  virtual void on_response_idle(RequestContext&, std::string& /*out*/) {}
  virtual void on_complete(const RequestContext&) {}
  virtual void on_destroy(RequestContext&) {}
};

}  // namespace sluice::gateway::pipeline
