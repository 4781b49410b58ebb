// A few named threads that run queued jobs in order: what the gateway's blocking work (libpqxx,
// which has no async API) runs on, so it never runs on an Asio or a gRPC thread. Bounded: a full
// queue refuses the job and says so (the caller answers 503) instead of growing without limit.
#pragma once
#include <condition_variable>
#include <cstddef>
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

}  // namespace sluice::common
