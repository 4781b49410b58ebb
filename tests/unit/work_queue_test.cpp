// The bounded job queue the gateway's blocking work runs on, and the Result it answers with.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/worker.h"

using namespace sluice::common;

TEST_CASE("work queue: one thread runs jobs in the order they were posted, on that thread's index") {
  WorkQueue queue("test", 1, 100);
  std::vector<int> order;
  std::vector<unsigned> indexes;
  std::promise<void> done;
  for (int i = 0; i < 10; ++i)
    CHECK(queue.post([&, i](unsigned index) {
      order.push_back(i);
      indexes.push_back(index);
      if (i == 9) done.set_value();
    }));
  done.get_future().wait();
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(indexes == std::vector<unsigned>(10, 0));
}

TEST_CASE("work queue: a full queue refuses the job instead of growing, and takes jobs again once it drains") {
  WorkQueue queue("test", 1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  REQUIRE(queue.post([&](unsigned) {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the thread is busy: what follows waits in the queue
  std::atomic<int> ran{0};
  CHECK(queue.post([&](unsigned) { ++ran; }));
  CHECK(queue.post([&](unsigned) { ++ran; }));
  CHECK(queue.queued() == 2);
  CHECK_FALSE(queue.post([&](unsigned) { ran += 100; }));  // refused: it never runs
  release.set_value();
  queue.stop();  // runs the two queued jobs, then joins
  CHECK(ran == 2);
}

TEST_CASE("work queue: stop runs what is queued, then refuses new jobs") {
  std::atomic<int> ran{0};
  WorkQueue queue("test", 2, 100);
  for (int i = 0; i < 50; ++i) REQUIRE(queue.post([&](unsigned) { ++ran; }));
  queue.stop();
  CHECK(ran == 50);
  CHECK_FALSE(queue.post([&](unsigned) { ++ran; }));
  queue.stop();  // idempotent
  CHECK(ran == 50);
}

TEST_CASE("work queue: a job that throws does not take its thread with it") {
  WorkQueue queue("test", 1, 10);
  std::promise<int> after;
  CHECK(queue.post([](unsigned) { throw std::runtime_error("boom"); }));
  CHECK(queue.post([&](unsigned) { after.set_value(7); }));
  CHECK(after.get_future().get() == 7);
}

TEST_CASE("work queue: several threads each get their own index") {
  WorkQueue queue("test", 3, 100);
  CHECK(queue.threads() == 3);
  std::mutex mu;
  std::set<unsigned> seen;
  std::atomic<int> waiting{3};
  std::promise<void> all;
  std::shared_future<void> gate = all.get_future().share();
  for (int i = 0; i < 3; ++i)  // three jobs that wait for each other must be on three threads
    REQUIRE(queue.post([&](unsigned index) {
      {
        std::lock_guard lock(mu);
        seen.insert(index);
      }
      if (--waiting == 0) all.set_value();
      gate.wait();
    }));
  gate.wait();
  queue.stop();
  CHECK(seen == std::set<unsigned>{0, 1, 2});
}

TEST_CASE("result: holds a value or an error with its code") {
  Result<int> good = 5;
  REQUIRE(good.ok());
  CHECK(*good == 5);
  Result<int> bad = Result<int>::fail(503, "the database is down");
  CHECK_FALSE(bad);
  CHECK(bad.error().code == 503);
  CHECK(bad.error().message == "the database is down");
  Result<std::string> moved = std::string("abc");
  CHECK(std::move(moved).value() == "abc");
}

TEST_CASE("ticker: runs at start, then after the pause its tick returns") {
  Ticker ticker("test-tick");
  std::atomic<int> runs{0};
  ticker.start([&] {
    ++runs;
    return std::chrono::milliseconds(runs < 3 ? 0 : 3600 * 1000);  // three runs, then an hour's pause
  });
  REQUIRE(ticker.wait_ticks(3, std::chrono::seconds(10)));
  CHECK_FALSE(ticker.wait_ticks(4, std::chrono::milliseconds(100)));
  CHECK(runs == 3);
}

TEST_CASE("ticker: wake() cuts the pause short, and a wake during a tick is not lost") {
  Ticker ticker("test-tick");
  std::promise<void> in_first;
  std::promise<void> release_first;
  auto release = release_first.get_future().share();
  std::atomic<int> runs{0};
  ticker.start([&] {
    if (++runs == 1) {
      in_first.set_value();
      release.wait();
    }
    return std::chrono::milliseconds(3600 * 1000);
  });
  in_first.get_future().wait();
  ticker.wake();  // while the first tick runs
  release_first.set_value();
  REQUIRE(ticker.wait_ticks(2, std::chrono::seconds(10)));
  CHECK_FALSE(ticker.wait_ticks(3, std::chrono::milliseconds(100)));
  ticker.wake();
  CHECK(ticker.wait_ticks(3, std::chrono::seconds(10)));
}

TEST_CASE("ticker: a tick that throws is run again after the error pause - stop() ends an hour's pause at once") {
  Ticker ticker("test-tick");
  std::atomic<int> runs{0};
  ticker.start(
      [&]() -> std::chrono::milliseconds {
        if (++runs == 1) throw std::runtime_error("the database is down");
        return std::chrono::milliseconds(3600 * 1000);
      },
      std::chrono::milliseconds(1));
  REQUIRE(ticker.wait_ticks(2, std::chrono::seconds(10)));
  CHECK(runs == 2);
  ticker.stop();  // would wait out the hour if it did not cut the pause (the test's timeout fails it)
  ticker.stop();  // idempotent
}
