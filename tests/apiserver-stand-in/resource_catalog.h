// What the stand-in serves: one table of resources from which discovery, OpenAPI and routing derive.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sluice::standin {

struct ResourceType {
  std::string group;     // "" for core
  std::string version;
  std::string resource;  // plural, e.g. "pods"
  std::string singular;
  std::string kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> subresources;  // e.g. "log", "exec", "status"

  std::string group_version() const { return group.empty() ? version : group + "/" + version; }
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
  // "api/v1" or "apis/<group>/<version>": the URL prefix, also the OpenAPI v3 document's name.
  std::string api_path() const { return group.empty() ? "api/" + version : "apis/" + group + "/" + version; }
};

class ResourceCatalog {
 public:
  ResourceCatalog();

  const std::vector<ResourceType>& all() const { return types_; }
  const ResourceType* find(const std::string& group, const std::string& version,
                           const std::string& resource) const;

  nlohmann::json version_info() const;
  nlohmann::json core_versions(const std::string& server_address) const;  // GET /api
  nlohmann::json group_list() const;                                         // GET /apis
  // GET /api/v1 or /apis/<group>/<version>; nullopt when the group/version is not served.
  std::optional<nlohmann::json> resource_list(const std::string& group, const std::string& version) const;

 private:
  std::vector<ResourceType> types_;
  // Non-resource discovery groups served without objects (authorization/authentication reviews).
  struct VirtualResource {
    std::string group, version, resource, kind;
  };
  std::vector<VirtualResource> virtual_;
};

}  // namespace sluice::standin
