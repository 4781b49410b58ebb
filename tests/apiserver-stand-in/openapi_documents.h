// GET /openapi/v2 and /openapi/v3: upstream's schemas for the kinds the stand-in serves
// (openapi/kubernetes-schemas.json), in the documents kube-apiserver publishes. kubectl explain
// reads v3; kubectl's client-side validation (a List with --validate=strict) reads v2 as protobuf.
#pragma once
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "resource_catalog.h"

namespace sluice::standin {

class OpenApiDocuments {
 public:
  // Throws when the schema file cannot be read or parsed.
  OpenApiDocuments(const ResourceCatalog& catalog, const std::string& schemas_path);

  const nlohmann::json& v3_root() const { return v3_root_; }
  // "api/v1", "apis/apps/v1"; nullptr for a group/version the stand-in does not serve.
  const nlohmann::json* v3_group_version(const std::string& gv_path) const;
  const std::string& v2_json() const { return v2_json_; }
  const std::string& v2_protobuf() const { return v2_protobuf_; }

 private:
  nlohmann::json v3_root_;
  std::map<std::string, nlohmann::json> v3_docs_;
  std::string v2_json_, v2_protobuf_;
};

}  // namespace sluice::standin
