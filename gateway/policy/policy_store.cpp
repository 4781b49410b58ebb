#include "gateway/policy/policy_store.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <stdexcept>

#include "gateway/policy/policy_loader.h"

namespace sluice::gateway::policy {
namespace {

// Editors replace files (a new inode) or rewrite them in place (new mtime or size): either changes this.
std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_size) + "/" + std::to_string(st.st_ino);
}

}  // namespace

PolicyStore::PolicyStore(std::string path, std::chrono::milliseconds check_every)
    : path_(std::move(path)), check_every_(check_every) {
  stamp_ = file_stamp(path_);
  std::string error;
  auto p = load_policy_file(path_, error);
  if (!p) throw std::runtime_error(error);
  spdlog::info("policy: {} rules from {} (default action: {})", p->rules.size(), path_, to_string(p->default_action));
  current_ = std::make_shared<const PolicyEngine>(std::move(*p));
  loads_ = 1;
  watcher_.start([this] {
    reload_if_changed();
    return check_every_;
  });
}

PolicyStore::~PolicyStore() { watcher_.stop(); }

std::shared_ptr<const PolicyEngine> PolicyStore::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::uint64_t PolicyStore::loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

std::string PolicyStore::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

bool PolicyStore::reload_if_changed() {
  const auto stamp = file_stamp(path_);
  {
    std::lock_guard lock(mu_);
    if (stamp == stamp_) return false;
    stamp_ = stamp;  // a refused version is reported once, not every second
  }
  std::string error;
  auto p = stamp.empty() ? std::nullopt : load_policy_file(path_, error);
  if (stamp.empty()) error = path_ + ": the policy file is gone";
  std::lock_guard lock(mu_);
  if (!p) {
    last_error_ = error;
    spdlog::error("policy: not reloaded, the policy in force stays: {}", error);
    return false;
  }
  spdlog::info("policy: reloaded {} rules from {}", p->rules.size(), path_);
  current_ = std::make_shared<const PolicyEngine>(std::move(*p));
  ++loads_;
  last_error_.clear();
  return true;
}

}  // namespace sluice::gateway::policy
