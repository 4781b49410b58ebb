#include "gateway/server/cluster_directory.h"

#include <future>

#include <spdlog/spdlog.h>

#include "gateway/store/cluster_store.h"

namespace sluice::gateway {

ClusterDirectory::~ClusterDirectory() {
  ticker_.stop();
  stopped_ = true;
  decltype(waiters_) left;
  {
    std::lock_guard lock(mu_);
    left.swap(waiters_);
  }
  for (auto& [name, done] : left) done(false);
}

void ClusterDirectory::start() {
  ticker_.start([this] { return refresh(); });
}

bool ClusterDirectory::known(const std::string& cluster) const {
  std::lock_guard lock(mu_);
  return names_.count(cluster) > 0;
}

void ClusterDirectory::lookup_fresh(const std::string& cluster, std::function<void(bool)> done) {
  {
    std::lock_guard lock(mu_);
    if (!stopped_) {
      waiters_.emplace_back(cluster, std::move(done));
      done = nullptr;
    }
  }
  if (done) return done(false);
  ticker_.wake();
}

std::chrono::milliseconds ClusterDirectory::refresh() {
  decltype(waiters_) answering;  // lookups that arrived before this read began
  {
    std::lock_guard lock(mu_);
    answering.swap(waiters_);
  }
  // The ticker's thread waits for the pool's answer: one refresh at a time, never on an io thread.
  std::promise<common::Result<std::set<std::string>>> answer;
  db_.run(
      [](pqxx::connection& conn) {
        std::set<std::string> names;
        for (const auto& c : store::ClusterStore(conn).list()) names.insert(c.name);
        return names;
      },
      std::function<void(common::Result<std::set<std::string>>)>(
          [&answer](common::Result<std::set<std::string>> r) { answer.set_value(std::move(r)); }));
  auto result = answer.get_future().get();
  if (result) {
    {
      std::lock_guard lock(mu_);
      names_ = std::move(result).value();
    }
    if (!database_ok_) spdlog::info("database reachable");
    database_ok_ = true;
  } else {
    if (database_ok_) spdlog::error("database unreachable: {}", result.error().message);
    database_ok_ = false;
  }
  for (auto& [name, done] : answering) done(known(name));
  return std::chrono::seconds(2);
}

}  // namespace sluice::gateway
