#include "agent/frame_window.h"

namespace sluice::agent {

std::size_t FrameWindow::join(Pending& into, pb::AgentFrame& next) {
  std::string* dst = nullptr;
  std::string* src = nullptr;
  if (into.frame.has_body() && next.has_body()) {
    dst = into.frame.mutable_body();
    src = next.mutable_body();
  } else if (into.frame.has_upgraded() && next.has_upgraded()) {
    dst = into.frame.mutable_upgraded();
    src = next.mutable_upgraded();
  }
  if (!dst || dst->size() + src->size() > kMaxCoalescedBytes) return 0;
  dst->append(*src);
  into.bytes += src->size();
  return src->size();
}

void FrameWindow::wait_on(Pending& p, Accepted accepted) {
  if (!p.accepted) {
    p.accepted = std::move(accepted);
    return;
  }
  // two writers waiting on one frame: both resume when it is written
  p.accepted = [a = std::move(p.accepted), b = std::move(accepted)](bool ok) {
    a(ok);
    b(ok);
  };
}

FrameWindow::Pushed FrameWindow::push(pb::AgentFrame frame, Accepted accepted) {
  Pushed out;
  // Only a frame that waits behind the one being written (the front) may take more data.
  if (const std::size_t added = queue_.size() > 1 ? join(queue_.back(), frame) : 0) {
    queued_bytes_ += added;
  } else {
    const std::size_t bytes = frame.ByteSizeLong();
    queued_bytes_ += bytes;
    queue_.push_back({std::move(frame), bytes, nullptr});
    out.start_write = queue_.size() == 1;
  }
  if (queued_bytes_ < kWindowBytes) out.go_on = std::move(accepted);
  else wait_on(queue_.back(), std::move(accepted));
  return out;
}

FrameWindow::Accepted FrameWindow::pop() {
  Accepted accepted = std::move(queue_.front().accepted);
  queued_bytes_ -= queue_.front().bytes;
  queue_.pop_front();
  return accepted;
}

std::deque<FrameWindow::Accepted> FrameWindow::close() {
  std::deque<Accepted> waiting;
  for (auto& p : queue_)
    if (p.accepted) waiting.push_back(std::move(p.accepted));
  queue_.clear();
  queued_bytes_ = 0;
  return waiting;
}

}  // namespace sluice::agent
