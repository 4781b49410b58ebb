#include "gateway/server/cluster_directory.h"

#include <spdlog/spdlog.h>

#include "gateway/store/cluster_store.h"

namespace sluice::gateway {

ClusterDirectory::ClusterDirectory(std::string database_url) : url_(std::move(database_url)) {}

ClusterDirectory::~ClusterDirectory() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ClusterDirectory::start() { thread_ = std::thread([this] { run(); }); }

bool ClusterDirectory::known(const std::string& cluster) const {
  std::lock_guard lock(mu_);
  return names_.count(cluster) > 0;
}

void ClusterDirectory::lookup_fresh(const std::string& cluster, std::function<void(bool)> done) {
  std::lock_guard lock(mu_);
  waiters_.emplace_back(cluster, std::move(done));
  wake_.notify_all();
}

void ClusterDirectory::run() {
  store::ClusterStore store(url_);
  while (!stop_) {
    decltype(waiters_) answering;  // lookups that arrived before this read began
    {
      std::lock_guard lock(mu_);
      answering.swap(waiters_);
    }
    try {
      std::set<std::string> names;
      for (const auto& c : store.list()) names.insert(c.name);
      {
        std::lock_guard lock(mu_);
        names_ = std::move(names);
      }
      if (!database_ok_) spdlog::info("database reachable");
      database_ok_ = true;
    } catch (const std::exception& e) {
      if (database_ok_) spdlog::error("database unreachable: {}", e.what());
      database_ok_ = false;
    }
    for (auto& [name, done] : answering) done(known(name));
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::seconds(2), [this] { return stop_.load() || !waiters_.empty(); });
  }
  for (auto& [name, done] : waiters_) done(false);
}

}  // namespace sluice::gateway
