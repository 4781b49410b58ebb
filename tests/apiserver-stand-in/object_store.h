// In-memory objects with one global resourceVersion counter, a bounded event history and watchers.
// Single-threaded by design: the stand-in runs one io_context thread.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::standin {

struct WatchEvent {
  std::uint64_t rv = 0;
  std::string type;  // ADDED, MODIFIED, DELETED
  std::string group_resource;
  std::string ns;
  nlohmann::json object;
  nlohmann::json previous;  // the object before a MODIFIED (for selector transitions)
};

class ObjectStore {
 public:
  using Watcher = std::function<void(const WatchEvent&)>;

  explicit ObjectStore(std::size_t history_limit = 20000) : history_limit_(history_limit) {}

  std::uint64_t current_rv() const { return rv_; }
  std::uint64_t next_rv() { return ++rv_; }

  const nlohmann::json* get(const std::string& gr, const std::string& ns, const std::string& name) const;
  // All objects of a type, in namespace `ns` ("" = all namespaces), ordered by namespace/name.
  std::vector<const nlohmann::json*> list(const std::string& gr, const std::string& ns) const;

  // Stores `object` (its metadata.resourceVersion must already be set to `rv`) and notifies watchers.
  const nlohmann::json& put(const std::string& gr, const std::string& ns, const std::string& name,
                            nlohmann::json object, std::uint64_t rv);
  // Removes and returns the object (with a fresh resourceVersion), or nullopt when absent.
  std::optional<nlohmann::json> erase(const std::string& gr, const std::string& ns, const std::string& name);

  // Events of a type after `rv`; nullopt when `rv` is older than the history kept (410 Expired).
  std::optional<std::vector<const WatchEvent*>> events_since(std::uint64_t rv, const std::string& gr) const;

  std::uint64_t add_watcher(const std::string& gr, Watcher w);
  void remove_watcher(std::uint64_t id);

 private:
  void record(WatchEvent ev);
  static std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

  std::uint64_t rv_ = 1000;  // start above zero so "0" keeps its special meaning
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;
  std::deque<WatchEvent> history_;
  std::size_t history_limit_;
  std::uint64_t oldest_kept_rv_ = 1000;
  std::uint64_t next_watcher_ = 1;
  std::map<std::uint64_t, std::pair<std::string, Watcher>> watchers_;
};

}  // namespace sluice::standin
