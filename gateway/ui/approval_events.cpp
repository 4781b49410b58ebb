#include "gateway/ui/approval_events.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "gateway/ui/ui_routes.h"

namespace sluice::gateway::ui {
namespace {
constexpr std::size_t kMaxPending = 256;
constexpr auto kTick = std::chrono::seconds(15);
constexpr int kTicksPerStream = 40;  // 10 minutes
}  // namespace

ApprovalEventStream::ApprovalEventStream(approval::ApprovalService& service, std::shared_ptr<pipeline::Chain> chain)
    : service_(service), chain_(std::move(chain)), client_(chain_->downstream_ptr()), timer_(chain_->executor()) {}

void ApprovalEventStream::start() {
  pipeline::ResponseHead head;
  head.status = 200;
  head.headers = security_headers();
  head.headers.emplace_back("Content-Type", "text/event-stream; charset=utf-8");
  writing_ = true;
  auto self = shared_from_this();
  // `retry` tells EventSource how soon to reconnect when the stream ends.
  client_->send_head(std::move(head), "retry: 2000\n: connected\n\n", false, [self](bool ok) {
    self->writing_ = false;
    if (ok) self->write_next();
  });
  std::weak_ptr<ApprovalEventStream> weak = self;
  auto executor = chain_->executor();
  token_ = service_.subscribe([weak, executor](const std::string& id) {
    boost::asio::post(executor, [weak, id] {
      if (auto s = weak.lock()) s->changed(id);
    });
  });
  tick();
}

void ApprovalEventStream::changed(const std::string& id) {
  if (stopped_) return;
  if (pending_.size() >= kMaxPending) resync_ = true;
  else pending_.insert(id);
  write_next();
}

void ApprovalEventStream::write_next() {
  if (stopped_ || writing_) return;
  std::string out;
  if (resync_) {
    out = "event: resync\ndata: {}\n\n";
    resync_ = false;
    pending_.clear();
  } else if (!pending_.empty()) {
    out = "event: approval\ndata: " + nlohmann::json{{"id", *pending_.begin()}}.dump() + "\n\n";
    pending_.erase(pending_.begin());
  } else if (keepalive_due_) {
    out = ": keepalive\n\n";
  } else {
    return;
  }
  keepalive_due_ = false;
  writing_ = true;
  auto self = shared_from_this();
  // A failed write means the client left: the front tells the chain, whose on_destroy stops us.
  client_->send_data(std::move(out), false, [self](bool ok) {
    self->writing_ = false;
    if (ok) self->write_next();
  });
}

void ApprovalEventStream::tick() {
  auto self = shared_from_this();
  timer_.expires_after(kTick);
  timer_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    if (++self->ticks_ >= kTicksPerStream) return self->end_stream();
    self->keepalive_due_ = true;
    self->write_next();
    self->tick();
  });
}

void ApprovalEventStream::end_stream() {
  if (stopped_) return;
  auto client = client_;
  auto chain = chain_;
  stop();
  client->send_data("", true, [chain, client](bool) {
    chain->complete(200);
    client->finish_response(false);
  });
}

void ApprovalEventStream::stop() {
  if (stopped_) return;
  stopped_ = true;
  service_.unsubscribe(token_);
  timer_.cancel();
  chain_.reset();  // the chain holds the stage that holds us: no cycle once stopped
}

}  // namespace sluice::gateway::ui
