// Registered cluster names and database health, refreshed every 2 s through the Database pool on a
// Ticker, so that request handling never waits on PostgreSQL (404 for an unknown cluster, /readyz).
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/worker.h"
#include "gateway/store/database.h"

namespace sluice::gateway {

class ClusterDirectory {
 public:
  explicit ClusterDirectory(store::Database& db) : db_(db) {}
  ~ClusterDirectory();
  void start();
  bool known(const std::string& cluster) const;
  bool database_ok() const { return database_ok_; }
  // A name not in the cache may have been added a moment ago by `cluster add`: re-read the table
  // and answer then. `done` runs on a background thread (post it to your own executor).
  void lookup_fresh(const std::string& cluster, std::function<void(bool known)> done);

 private:
  std::chrono::milliseconds refresh();
  store::Database& db_;
  mutable std::mutex mu_;
  std::set<std::string> names_;
  std::atomic<bool> database_ok_{false}, stopped_{false};
  std::vector<std::pair<std::string, std::function<void(bool)>>> waiters_;
  common::Ticker ticker_{"sluice-clusters"};  // last: stops before the rest goes
};

}  // namespace sluice::gateway
