// GET /openapi/v2 and /openapi/v3: upstream's schemas for the kinds the stand-in serves
// (openapi/kubernetes-schemas.json), in the documents kube-apiserver publishes. kubectl explain
// reads v3; kubectl's client-side validation (a List with --validate=strict) reads v2 as protobuf.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

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

  // Fields of `object` that upstream's schema for t's kind does not have, as kube-apiserver's
  // strict decoding names them ("spec.maxUnavailabel"); none for a kind without a schema. A
  // merge or strategic-merge `patch` is read the same way, less its directives ($patch,
  // $setElementOrder/...) and its nulls (deletions).
  std::vector<std::string> unknown_fields(const ResourceType& t, const nlohmann::json& object, bool patch) const;

 private:
  nlohmann::json schemas_;
  std::map<std::string, std::string> schema_of_kind_;  // "group/version/Kind" -> schema name
  nlohmann::json v3_root_;
  std::map<std::string, nlohmann::json> v3_docs_;
  std::string v2_json_, v2_protobuf_;
};

}  // namespace sluice::standin
