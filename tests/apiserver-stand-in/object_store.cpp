#include "object_store.h"

namespace sluice::standin {

const nlohmann::json* ObjectStore::get(const std::string& gr, const std::string& ns, const std::string& name) const {
  auto t = objects_.find(gr);
  if (t == objects_.end()) return nullptr;
  auto o = t->second.find(key(ns, name));
  return o == t->second.end() ? nullptr : &o->second;
}

std::vector<const nlohmann::json*> ObjectStore::list(const std::string& gr, const std::string& ns) const {
  std::vector<const nlohmann::json*> out;
  auto t = objects_.find(gr);
  if (t == objects_.end()) return out;
  auto it = ns.empty() ? t->second.begin() : t->second.lower_bound(ns + "/");
  for (; it != t->second.end(); ++it) {
    if (!ns.empty() && it->first.compare(0, ns.size() + 1, ns + "/") != 0) break;
    out.push_back(&it->second);
  }
  return out;
}

const nlohmann::json& ObjectStore::put(const std::string& gr, const std::string& ns, const std::string& name,
                                       nlohmann::json object, std::uint64_t rv) {
  auto& slot = objects_[gr][key(ns, name)];
  WatchEvent ev;
  ev.rv = rv;
  ev.group_resource = gr;
  ev.ns = ns;
  ev.type = slot.is_null() ? "ADDED" : "MODIFIED";
  ev.previous = std::move(slot);
  slot = std::move(object);
  ev.object = slot;
  record(std::move(ev));
  return slot;
}

std::optional<nlohmann::json> ObjectStore::erase(const std::string& gr, const std::string& ns, const std::string& name) {
  auto t = objects_.find(gr);
  if (t == objects_.end()) return std::nullopt;
  auto o = t->second.find(key(ns, name));
  if (o == t->second.end()) return std::nullopt;
  nlohmann::json obj = std::move(o->second);
  t->second.erase(o);
  const auto rv = next_rv();
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
  WatchEvent ev{rv, "DELETED", gr, ns, obj, nullptr};
  record(std::move(ev));
  return obj;
}

void ObjectStore::record(WatchEvent ev) {
  history_.push_back(std::move(ev));
  if (history_.size() > history_limit_) {
    oldest_kept_rv_ = history_.front().rv;
    history_.pop_front();
  }
  const WatchEvent& stored = history_.back();
  // Copy the ids first: a watcher may remove itself (its client went away) while being notified.
  std::vector<std::uint64_t> ids;
  for (const auto& [id, w] : watchers_)
    if (w.first == stored.group_resource) ids.push_back(id);
  const WatchEvent copy = stored;
  for (auto id : ids)
    if (auto it = watchers_.find(id); it != watchers_.end()) it->second.second(copy);
}

std::optional<std::vector<const WatchEvent*>> ObjectStore::events_since(std::uint64_t rv, const std::string& gr) const {
  if (rv < oldest_kept_rv_) return std::nullopt;
  std::vector<const WatchEvent*> out;
  for (const auto& ev : history_)
    if (ev.rv > rv && ev.group_resource == gr) out.push_back(&ev);
  return out;
}

std::uint64_t ObjectStore::add_watcher(const std::string& gr, Watcher w) {
  const auto id = next_watcher_++;
  watchers_[id] = {gr, std::move(w)};
  return id;
}

void ObjectStore::remove_watcher(std::uint64_t id) { watchers_.erase(id); }

}  // namespace sluice::standin
