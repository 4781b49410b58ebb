// Registered cluster names and database health, refreshed on a background thread so that request
// handling never waits on PostgreSQL (404 for an unknown cluster, /readyz).
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace sluice::gateway {

class ClusterDirectory {
 public:
  explicit ClusterDirectory(std::string database_url);
  ~ClusterDirectory();
  void start();
  bool known(const std::string& cluster) const;
  bool database_ok() const { return database_ok_; }
  void refresh_now();  // wakes the refresher (e.g. after a lookup missed)

 private:
  void run();
  std::string url_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::set<std::string> names_;
  std::atomic<bool> database_ok_{false}, stop_{false};
  bool poke_ = false;
  std::thread thread_;
};

}  // namespace sluice::gateway
