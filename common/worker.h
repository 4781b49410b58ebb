// The gateway's two kinds of background thread, so no component hand-rolls its own loop:
// - WorkQueue: a few named threads that run queued jobs in order: what the gateway's blocking work
//   (libpqxx, which has no async API) runs on, so it never runs on an Asio or a gRPC thread.
//   Bounded: a full queue refuses the job and says so (the caller answers 503).
// - Ticker: one named thread that runs a periodic task (a poll, a refresh, a delivery round) and
//   can be woken early.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::common {

class WorkQueue {
 public:
  // A job learns which of the threads runs it (0..threads-1), e.g. to use that thread's connection.
  using Job = std::function<void(unsigned thread_index)>;

  WorkQueue(std::string name, unsigned threads, std::size_t max_queued);
  ~WorkQueue();  // runs what is queued, then joins
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False when the queue is full or stopping: the job was not taken and will not run.
  bool post(Job job);
  // Stop taking jobs, run the queued ones, join. Idempotent; the destructor calls it.
  void stop();
  std::size_t queued() const;
  unsigned threads() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void run(unsigned index);
  const std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Runs `tick` at start(), then again after the pause it returns, or at once when wake() was
// called meanwhile (a wake during a tick is not lost). A tick that throws is logged and run again
// after `after_error`. start() comes last in the owner's constructor, and stop() first in its
// destructor, so a tick never sees a half-built or half-destroyed owner.
class Ticker {
 public:
  using Tick = std::function<std::chrono::milliseconds()>;

  explicit Ticker(std::string name) : name_(std::move(name)) {}
  ~Ticker();  // stop()
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  void start(Tick tick, std::chrono::milliseconds after_error = std::chrono::seconds(2));
  void wake();
  // Waits for a running tick to end, then joins. Idempotent.
  void stop();
  // Waits (at most `timeout`) until n ticks have ended: tests wait on it instead of sleeping.
  bool wait_ticks(std::uint64_t n, std::chrono::milliseconds timeout) const;

 private:
  void run(Tick tick, std::chrono::milliseconds after_error);
  const std::string name_;
  mutable std::mutex mu_;
  mutable std::condition_variable wake_;
  bool woken_ = false, stopping_ = false;
  std::uint64_t ticks_ = 0;
  std::thread thread_;
};

}  // namespace sluice::common
