// store::Database against a real PostgreSQL: jobs run on its own threads, a broken connection is
// opened again for the next job, and every failure comes back as a 503 Result, never an exception.
#include <doctest/doctest.h>

#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "gateway/store/database.h"
#include "test_database.h"

using namespace sluice::gateway;
using sluice::common::Result;

namespace {

// Runs a job and waits for its answer (the tests are the only place that may wait).
template <class Job, class T = std::invoke_result_t<Job&, pqxx::connection&>>
Result<T> run_and_wait(store::Database& db, Job job) {
  std::promise<Result<T>> answer;
  db.run(std::move(job), std::function<void(Result<T>)>([&](Result<T> r) { answer.set_value(std::move(r)); }));
  return answer.get_future().get();
}

int backend_pid(pqxx::connection& c) {
  pqxx::work tx(c);
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
}

}  // namespace

TEST_CASE("database: a job runs on a pool thread and its value comes back") {
  store::Database db(sluice::testing::server_url(), 2);
  const auto caller = std::this_thread::get_id();
  auto r = run_and_wait(db, [caller](pqxx::connection& c) {
    CHECK(std::this_thread::get_id() != caller);
    pqxx::work tx(c);
    return tx.exec1("SELECT 40 + 2")[0].as<int>();
  });
  REQUIRE(r.ok());
  CHECK(*r == 42);
}

TEST_CASE("database: a job that throws answers 503 with the reason, and the next job runs") {
  store::Database db(sluice::testing::server_url(), 1);
  auto r = run_and_wait(db, [](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec("SELECT * FROM no_such_table_here");
    return 0;
  });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == 503);
  CHECK(r.error().message.find("no_such_table_here") != std::string::npos);
  auto again = run_and_wait(db, [](pqxx::connection& c) {
    pqxx::work tx(c);
    return tx.exec1("SELECT 1")[0].as<int>();
  });
  CHECK(again.ok());
}

TEST_CASE("database: a connection the server ended is opened again for the next job") {
  const std::string url = sluice::testing::server_url();
  store::Database db(url, 1);
  auto first = run_and_wait(db, [](pqxx::connection& c) { return backend_pid(c); });
  REQUIRE(first.ok());
  {
    pqxx::connection admin(url);
    pqxx::work tx(admin);
    tx.exec1("SELECT pg_terminate_backend(" + std::to_string(*first) + ")");
    tx.commit();
  }
  // The job that meets the dead connection fails (it is not retried: it may not be idempotent) ...
  auto broken = run_and_wait(db, [](pqxx::connection& c) { return backend_pid(c); });
  CHECK_FALSE(broken.ok());
  if (!broken.ok()) CHECK(broken.error().code == 503);
  // ... and the next one runs on a new connection.
  auto second = run_and_wait(db, [](pqxx::connection& c) { return backend_pid(c); });
  REQUIRE(second.ok());
  CHECK(*second != *first);
}

TEST_CASE("database: an unreachable server answers 503 'cannot reach the database'") {
  store::Database db("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2", 1);
  auto r = run_and_wait(db, [](pqxx::connection&) { return 1; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == 503);
  CHECK(r.error().message.find("cannot reach the database") != std::string::npos);
}

TEST_CASE("database: a full queue answers 503 at once, on the caller's thread") {
  store::Database db(sluice::testing::server_url(), 1, 1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  db.run_detached("hold the only thread", [&](pqxx::connection&) {
    started.set_value();
    gate.wait();
  });
  started.get_future().wait();
  db.run_detached("fill the queue", [](pqxx::connection&) {});
  const auto caller = std::this_thread::get_id();
  bool answered = false;
  db.run([](pqxx::connection&) { return 1; }, std::function<void(Result<int>)>([&](Result<int> r) {
           answered = true;
           CHECK(std::this_thread::get_id() == caller);
           REQUIRE_FALSE(r.ok());
           CHECK(r.error().code == 503);
           CHECK(r.error().message.find("queue is full") != std::string::npos);
         }));
  CHECK(answered);
  release.set_value();
}

TEST_CASE("database: the destructor runs every queued job first") {
  std::atomic<int> ran{0};
  {
    store::Database db(sluice::testing::server_url(), 2);
    for (int i = 0; i < 20; ++i)
      db.run_detached("count", [&](pqxx::connection& c) {
        pqxx::work tx(c);
        tx.exec1("SELECT 1");
        ++ran;
      });
  }
  CHECK(ran == 20);
}
