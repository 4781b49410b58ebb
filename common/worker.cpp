#include "common/worker.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

namespace sluice::common {

WorkQueue::WorkQueue(std::string name, unsigned threads, std::size_t max_queued) : max_queued_(max_queued) {
  if (threads == 0) threads = 1;
  name.resize(std::min<std::size_t>(name.size(), 15));  // the kernel's limit for thread names
  for (unsigned i = 0; i < threads; ++i)
    threads_.emplace_back([this, i, name] {
      pthread_setname_np(pthread_self(), name.c_str());
      run(i);
    });
}

WorkQueue::~WorkQueue() { stop(); }

bool WorkQueue::post(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= max_queued_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void WorkQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
}

std::size_t WorkQueue::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void WorkQueue::run(unsigned index) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // A job that throws is a bug; it must not take the thread (and every later job) with it.
    try {
      job(index);
    } catch (const std::exception& e) {
      spdlog::error("a background job failed (a bug: please report it): {}", e.what());
    } catch (...) {
      spdlog::error("a background job failed with a non-standard exception (a bug: please report it)");
    }
  }
}

Ticker::~Ticker() { stop(); }

void Ticker::start(Tick tick, std::chrono::milliseconds after_error) {
  thread_ = std::thread([this, tick = std::move(tick), after_error]() mutable {
    std::string name = name_.substr(0, 15);
    pthread_setname_np(pthread_self(), name.c_str());
    run(std::move(tick), after_error);
  });
}

void Ticker::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void Ticker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Ticker::wait_ticks(std::uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return wake_.wait_for(lock, timeout, [&] { return ticks_ >= n; });
}

void Ticker::run(Tick tick, std::chrono::milliseconds after_error) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      woken_ = false;
    }
    std::chrono::milliseconds pause = after_error;
    try {
      pause = tick();
    } catch (const std::exception& e) {
      spdlog::warn("{}: {} (trying again in {} ms)", name_, e.what(), after_error.count());
    } catch (...) {
      spdlog::error("{}: a non-standard exception (a bug: please report it)", name_);
    }
    std::unique_lock lock(mu_);
    ++ticks_;
    wake_.notify_all();
    wake_.wait_for(lock, pause, [this] { return stopping_ || woken_; });
  }
}

}  // namespace sluice::common
