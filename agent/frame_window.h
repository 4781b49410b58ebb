// The frames an exchange has queued toward the gateway, and the window that paces its writer.
// Up to kWindowBytes may wait before the writer is told to hold on: the upstream read of the next
// chunk overlaps the gRPC write of this one, while a stalled gateway still stops the agent
// reading. Data that arrives while earlier frames wait joins the last waiting frame (fewer, larger
// gRPC messages under load). Not thread-safe: its owner locks.
#pragma once
#include <cstddef>
#include <deque>
#include <functional>

#include "proto/tunnel.pb.h"

namespace sluice::agent {

namespace pb = ::sluice::tunnel::v1;

class FrameWindow {
 public:
  static constexpr std::size_t kWindowBytes = 256 * 1024;
  static constexpr std::size_t kMaxCoalescedBytes = 1024 * 1024;  // well under gRPC's 4 MiB message limit
  using Accepted = std::function<void(bool ok)>;

  struct Pushed {
    bool start_write = false;  // the queue was empty: write front() now
    Accepted go_on;            // call it (with true) at once: the window has room; else it waits for a write
  };
  // Queues `frame`, whose writer continues through `accepted`: at once when the window has room,
  // else once the frame it joined or was queued as has been written.
  Pushed push(pb::AgentFrame frame, Accepted accepted);
  // The frame being written (front of the queue).
  pb::AgentFrame& front() { return queue_.front().frame; }
  // The front frame's write ended: its waiting writers, to be called with the write's result.
  Accepted pop();
  // The call ended: every writer still waiting, to be told `false`.
  std::deque<Accepted> close();

  bool empty() const { return queue_.empty(); }
  std::size_t size() const { return queue_.size(); }
  std::size_t queued_bytes() const { return queued_bytes_; }

 private:
  struct Pending {
    pb::AgentFrame frame;
    std::size_t bytes = 0;
    Accepted accepted;  // empty when its writer was already told to go on
  };
  std::size_t join(Pending& into, pb::AgentFrame& next);
  void wait_on(Pending& p, Accepted accepted);

  std::deque<Pending> queue_;
  std::size_t queued_bytes_ = 0;
};

}  // namespace sluice::agent
