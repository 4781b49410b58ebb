// Runs the approval store off the Asio threads and tells held requests when their approval is
// decided. One WorkQueue thread (common/worker.h) owns one connection for reads and writes; a
// listener thread owns another that LISTENs on sluice_approvals (it blocks in libpq, so it cannot
// be a queued job) and queues the expiry sweep once a second, so a decision made through any gateway replica
// reaches the request held here within one notification. If the listener loses PostgreSQL, every
// held request is told so (and refused: fail closed); it reconnects with backoff.
#pragma once
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/worker.h"
#include "gateway/approval/approval_store.h"

namespace sluice::gateway::approval {

class ApprovalService {
 public:
  // The approval as it left `pending`, or nullopt: the store could not be reached or the wait
  // outlived its deadline. Runs on a service thread: post it to your strand.
  using Decided = std::function<void(std::optional<ApprovalRequest>)>;

  explicit ApprovalService(std::string database_url);
  ~ApprovalService();
  ApprovalService(const ApprovalService&) = delete;
  ApprovalService& operator=(const ApprovalService&) = delete;

  // Runs `job` on the worker thread. An exception from it is the job's own business: catch it there.
  void run(std::function<void(ApprovalStore&)> job);
  // Several requests may wait for one approval (an identical retry joins the first): each wait
  // has its ticket. stop_waiting is true when nobody else waits for `id`.
  std::uint64_t wait(const std::string& id, std::chrono::steady_clock::time_point deadline, Decided done);
  bool stop_waiting(const std::string& id, std::uint64_t ticket);
  // Every change of any approval (created, voted, decided, expired, cancelled) as its id, from the
  // listener thread, through whichever replica made it: the UI's live queue. `changed` must be
  // quick (post it to your strand).
  std::uint64_t subscribe(std::function<void(const std::string& id)> changed);
  void unsubscribe(std::uint64_t token);

 private:
  struct Waiter {
    std::chrono::steady_clock::time_point deadline;
    Decided done;
  };
  void sweep();  // on the worker: expire what is due, end holds past their deadline
  void sweep_if_due(std::chrono::steady_clock::time_point& next);
  void listen();
  void check(const std::string& id);        // on the worker: fire the waiter if `id` is decided
  void tell_subscribers(const std::string& id);
  void fail_all_waiters();
  std::vector<Decided> take_waiters(const std::string& id);

  const std::string url_;
  ApprovalStore store_;  // worker thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::map<std::uint64_t, Waiter>> waiters_;
  std::uint64_t next_ticket_ = 0;
  std::map<std::uint64_t, std::function<void(const std::string&)>> subscribers_;
  bool stopping_ = false;
  std::atomic<bool> sweep_queued_{false};
  common::WorkQueue worker_{"sluice-approval", 1, 1 << 16};  // after what its jobs use
  std::thread listener_;
};

}  // namespace sluice::gateway::approval
