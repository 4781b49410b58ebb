// The policy in force, reloaded when its file changes. A file that does not load (a YAML error,
// an unknown key) is logged with its line and column and the policy loaded before stays in force:
// a typo must never open the gate or close it for everyone.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/worker.h"
#include "gateway/policy/policy_engine.h"

namespace sluice::gateway::policy {

class PolicyStore {
 public:
  // Loads `path` now; throws std::runtime_error with the loader's message when it cannot.
  explicit PolicyStore(std::string path, std::chrono::milliseconds check_every = std::chrono::seconds(1));
  ~PolicyStore();
  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  std::shared_ptr<const PolicyEngine> current() const;
  std::uint64_t loads() const;      // policies taken into force, the first included
  std::string last_error() const;   // why the newest version of the file was refused; "" if it was not

 private:
  bool reload_if_changed();

  const std::string path_;
  const std::chrono::milliseconds check_every_;
  mutable std::mutex mu_;
  std::shared_ptr<const PolicyEngine> current_;
  std::uint64_t loads_ = 0;
  std::string last_error_;
  std::string stamp_;  // mtime, size and inode of the file last looked at
  common::Ticker watcher_{"sluice-policy"};  // last: stops before the rest goes
};

}  // namespace sluice::gateway::policy
