// Registered cluster names and database health, refreshed on a background thread so that request
// handling never waits on PostgreSQL (404 for an unknown cluster, /readyz).
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sluice::gateway {

class ClusterDirectory {
 public:
  explicit ClusterDirectory(std::string database_url);
  ~ClusterDirectory();
  void start();
  bool known(const std::string& cluster) const;
  bool database_ok() const { return database_ok_; }
  // A name not in the cache may have been added a moment ago by `cluster add`: re-read the table
  // and answer then. `done` runs on the refresher thread (post it to your own executor).
  void lookup_fresh(const std::string& cluster, std::function<void(bool known)> done);

 private:
  void run();
  std::string url_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::set<std::string> names_;
  std::atomic<bool> database_ok_{false}, stop_{false};
  std::vector<std::pair<std::string, std::function<void(bool)>>> waiters_;
  std::thread thread_;
};

}  // namespace sluice::gateway
