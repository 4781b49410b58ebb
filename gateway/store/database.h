// The gateway's one way to reach PostgreSQL from request handling: a few pooled connections, each
// owned by one thread of a bounded job queue. libpqxx blocks, so a job never runs on an Asio or a
// gRPC thread; its answer comes back as a Result through a callback, which the caller posts to
// its own strand. A connection that broke is opened again for the next job (a job is not
// retried: it may not be idempotent).
#pragma once
#include <pqxx/connection>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/result.h"
#include "common/worker.h"

namespace sluice::gateway::store {

class Database {
 public:
  Database(std::string url, unsigned connections, std::size_t max_queued = 4096);
  ~Database();  // runs every queued job, then closes the connections
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs job(connection) on a pool thread; `done` gets its value, or an Error (503) when the
  // database failed, the job threw, or the queue is full. `done` runs on the pool thread, or at
  // once on the caller's thread when the job is refused.
  template <class Job, class T = std::invoke_result_t<Job&, pqxx::connection&>>
  void run(Job job, std::function<void(common::Result<T>)> done) {
    auto answer = std::make_shared<std::function<void(common::Result<T>)>>(std::move(done));
    const bool taken = submit([job = std::move(job), answer](pqxx::connection* conn, const std::string& error) mutable {
      std::optional<common::Result<T>> result;
      if (!conn) result.emplace(common::Error{503, error});
      else {
        try {
          result.emplace(job(*conn));
        } catch (const std::exception& e) {
          result.emplace(common::Error{503, std::string("the database failed: ") + e.what()});
        }
      }
      (*answer)(std::move(*result));
    });
    if (!taken) (*answer)(common::Error{503, "the gateway's database queue is full"});
  }

  // A job whose answer nobody waits for (a check-in, a heartbeat): failures are logged as `what`.
  void run_detached(std::string what, std::function<void(pqxx::connection&)> job);

  std::size_t queued() const { return queue_.queued(); }

 private:
  // False when the queue refused the job. Otherwise `body` runs on a pool thread with that
  // thread's connection, or with nullptr and the reason when it cannot be opened.
  bool submit(std::function<void(pqxx::connection*, const std::string&)> body);
  pqxx::connection* connection(unsigned index, std::string& error);

  std::string url_;
  std::vector<std::unique_ptr<pqxx::connection>> conns_;  // one per queue thread, touched only by it
  common::WorkQueue queue_;                                // last: its threads stop before conns_ goes
};

}  // namespace sluice::gateway::store
