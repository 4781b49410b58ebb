// GET /ui/api/approvals/events: the UI's live queue as server-sent events. Every approval change
// any replica makes arrives through LISTEN sluice_approvals (approval::ApprovalService::subscribe)
// and goes out as `event: approval` with the id; the page then reads what changed through the
// approvals API, whose read rules apply as always. One write at a time: while one is in flight,
// further ids wait (at most 256, then one `resync` event tells the page to reload everything).
// A comment every 15 s finds a client that left; the stream ends after 10 minutes so the session
// is checked again (EventSource reconnects on its own).
#pragma once
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <set>
#include <string>

#include "gateway/approval/approval_service.h"
#include "gateway/pipeline/chain.h"

namespace sluice::gateway::ui {

class ApprovalEventStream : public std::enable_shared_from_this<ApprovalEventStream> {
 public:
  ApprovalEventStream(approval::ApprovalService& service, std::shared_ptr<pipeline::Chain> chain);
  void start();  // sends the head and subscribes; the chain is held until stop
  void stop();   // the client left or the request completed: unsubscribe, no more writes

 private:
  void changed(const std::string& id);
  void write_next();
  void tick();
  void end_stream();

  approval::ApprovalService& service_;
  std::shared_ptr<pipeline::Chain> chain_;
  std::shared_ptr<pipeline::Downstream> client_;
  boost::asio::steady_timer timer_;
  std::uint64_t token_ = 0;
  std::set<std::string> pending_;
  bool resync_ = false, writing_ = false, stopped_ = false, keepalive_due_ = false;
  int ticks_ = 0;
};

}  // namespace sluice::gateway::ui
