#include "openapi_documents.h"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/token_compare.h"
#include "openapi/openapi_v2.pb.h"

namespace sluice::standin {
namespace {
using json = nlohmann::json;
const std::string kV3Ref = "#/components/schemas/";
const std::string kV2Ref = "#/definitions/";

void collect_refs(const json& node, std::set<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string() && value.get_ref<const std::string&>().rfind(kV3Ref, 0) == 0)
        out.insert(value.get<std::string>().substr(kV3Ref.size()));
      else
        collect_refs(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) collect_refs(v, out);
  }
}

// The named schemas and everything they reference, as kube-apiserver puts them in one document.
json closure(const json& schemas, std::set<std::string> todo) {
  json out = json::object();
  while (!todo.empty()) {
    const std::string name = *todo.begin();
    todo.erase(todo.begin());
    if (out.contains(name) || !schemas.contains(name)) continue;
    out[name] = schemas[name];
    std::set<std::string> refs;
    collect_refs(schemas[name], refs);
    for (const auto& r : refs)
      if (!out.contains(r)) todo.insert(r);
  }
  return out;
}

bool in_group_version(const json& schema, const ResourceType& t) {
  for (const auto& gvk : schema.value("x-kubernetes-group-version-kind", json::array()))
    if (gvk.value("group", "") == t.group && gvk.value("version", "") == t.version) return true;
  return false;
}

// What kubectl reads from a v3 document's paths: PATCH operations tagged with their GVK and the
// query parameters they take, so kubectl knows the server validates fields (fieldValidation).
void add_paths(const ResourceType& t, json& paths) {
  std::string p = "/" + t.api_path() + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.resource + "/{name}";
  json params = json::array();
  for (const char* q : {"dryRun", "fieldManager", "fieldValidation", "force", "pretty"})
    params.push_back({{"name", q}, {"in", "query"}, {"schema", {{"type", q == std::string("force") ? "boolean" : "string"}}}});
  json gvk = {{"group", t.group}, {"version", t.version}, {"kind", t.kind}};
  paths[p] = {{"patch", {{"operationId", "patch" + t.kind},
                         {"x-kubernetes-action", "patch"},
                         {"x-kubernetes-group-version-kind", gvk},
                         {"parameters", params},
                         {"responses", {{"200", {{"description", "OK"}}}}}}},
              {"get", {{"operationId", "read" + t.kind},
                       {"x-kubernetes-action", "get"},
                       {"x-kubernetes-group-version-kind", gvk},
                       {"responses", {{"200", {{"description", "OK"}}}}}}}};
}

// OpenAPI 3 to Swagger 2: references point at definitions; `nullable` has no v2 form.
json to_v2(const json& node) {
  if (node.is_object()) {
    json out = json::object();
    for (const auto& [key, value] : node.items()) {
      if (key == "nullable") continue;
      if (key == "$ref" && value.is_string() && value.get_ref<const std::string&>().rfind(kV3Ref, 0) == 0)
        out[key] = kV2Ref + value.get<std::string>().substr(kV3Ref.size());
      else
        out[key] = to_v2(value);
    }
    return out;
  }
  if (node.is_array()) {
    json out = json::array();
    for (const auto& v : node) out.push_back(to_v2(v));
    return out;
  }
  return node;
}

// A v2 schema (already through to_v2) into gnostic's message: what kube-openapi's proto model
// reads (types, properties, items, maps, references, descriptions, required, x- extensions).
void to_proto(const json& s, openapi::v2::Schema& out) {
  if (!s.is_object()) return;
  if (auto it = s.find("$ref"); it != s.end() && it->is_string()) out.set__ref(it->get<std::string>());
  if (auto it = s.find("format"); it != s.end() && it->is_string()) out.set_format(it->get<std::string>());
  if (auto it = s.find("title"); it != s.end() && it->is_string()) out.set_title(it->get<std::string>());
  if (auto it = s.find("description"); it != s.end() && it->is_string()) out.set_description(it->get<std::string>());
  if (auto it = s.find("type"); it != s.end() && it->is_string()) out.mutable_type()->add_value(it->get<std::string>());
  for (const auto& r : s.value("required", json::array()))
    if (r.is_string()) out.add_required(r.get<std::string>());
  if (auto it = s.find("items"); it != s.end() && it->is_object()) to_proto(*it, *out.mutable_items()->add_schema());
  for (const auto& sub : s.value("allOf", json::array())) to_proto(sub, *out.add_all_of());
  if (auto it = s.find("additionalProperties"); it != s.end()) {
    if (it->is_boolean()) out.mutable_additional_properties()->set_boolean(it->get<bool>());
    else if (it->is_object()) to_proto(*it, *out.mutable_additional_properties()->mutable_schema());
  }
  if (auto it = s.find("properties"); it != s.end() && it->is_object()) {
    auto* props = out.mutable_properties();
    for (const auto& [name, value] : it->items()) {
      auto* named = props->add_additional_properties();
      named->set_name(name);
      to_proto(value, *named->mutable_value());
    }
  }
  for (const auto& [key, value] : s.items()) {
    if (key.rfind("x-", 0) != 0) continue;
    auto* ext = out.add_vendor_extension();
    ext->set_name(key);
    ext->mutable_value()->set_yaml(value.dump());
  }
}

json load_schemas(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the OpenAPI schemas " + path);
  std::stringstream text;
  text << in.rdbuf();
  json file = json::parse(text.str(), nullptr, false);
  if (!file.is_object() || !file.contains("schemas") || !file["schemas"].is_object())
    throw std::runtime_error(path + " is not an extract_schemas.py output (no \"schemas\" object)");
  return file["schemas"];
}
}  // namespace

OpenApiDocuments::OpenApiDocuments(const ResourceCatalog& catalog, const std::string& schemas_path) {
  schemas_ = load_schemas(schemas_path);
  const json& schemas = schemas_;
  for (const auto& [name, schema] : schemas.items())
    for (const auto& gvk : schema.value("x-kubernetes-group-version-kind", json::array()))
      schema_of_kind_[gvk.value("group", "") + "/" + gvk.value("version", "") + "/" + gvk.value("kind", "")] = name;

  std::map<std::string, std::pair<json, std::set<std::string>>> groups;  // paths, root schemas
  for (const auto& t : catalog.all()) {
    auto& [paths, roots] = groups[t.api_path()];
    if (paths.is_null()) paths = json::object();
    add_paths(t, paths);
    for (const auto& [name, schema] : schemas.items())
      if (in_group_version(schema, t)) roots.insert(name);
  }
  v3_root_ = {{"paths", json::object()}};
  for (auto& [gv, entry] : groups) {
    json doc = {{"openapi", "3.0.0"},
                {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                {"paths", std::move(entry.first)},
                {"components", {{"schemas", closure(schemas, entry.second)}}}};
    // The hash names the content, so a client's cache of an older document is never reused.
    v3_root_["paths"][gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + common::sha256_hex(doc.dump())}};
    v3_docs_.emplace(gv, std::move(doc));
  }

  const json definitions = to_v2(schemas);
  v2_json_ = json{{"swagger", "2.0"},
                  {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                  {"paths", json::object()},
                  {"definitions", definitions}}
                 .dump();
  openapi::v2::Document doc;
  doc.set_swagger("2.0");
  doc.mutable_info()->set_title("Kubernetes");
  doc.mutable_info()->set_version("v1.32.0");
  doc.mutable_paths();
  for (const auto& [name, schema] : definitions.items()) {
    auto* named = doc.mutable_definitions()->add_additional_properties();
    named->set_name(name);
    to_proto(schema, *named->mutable_value());
  }
  v2_protobuf_ = doc.SerializeAsString();
}

const nlohmann::json* OpenApiDocuments::v3_group_version(const std::string& gv_path) const {
  auto it = v3_docs_.find(gv_path);
  return it == v3_docs_.end() ? nullptr : &it->second;
}

}  // namespace sluice::standin

namespace sluice::standin {
namespace {
void walk_fields(const json& schemas, const json& value, const json* schema, const std::string& path, bool patch,
                 std::vector<std::string>& out) {
  for (int depth = 0; depth < 64 && schema; ++depth) {  // follow $ref (and allOf: [{$ref}]) to the type
    std::string ref;
    if (schema->contains("$ref")) ref = (*schema)["$ref"].get<std::string>();
    else if (schema->contains("allOf") && (*schema)["allOf"].is_array() && !(*schema)["allOf"].empty())
      ref = (*schema)["allOf"][0].value("$ref", "");
    if (ref.empty()) break;
    const std::string name = ref.substr(ref.rfind('/') + 1);
    schema = schemas.contains(name) ? &schemas[name] : nullptr;
  }
  if (!schema) return;
  if (value.is_object() && schema->contains("properties")) {
    const json& props = (*schema)["properties"];
    for (const auto& [key, item] : value.items()) {
      if (patch && (key.rfind("$", 0) == 0 || item.is_null())) continue;
      const std::string child = path.empty() ? key : path + "." + key;
      if (!props.contains(key)) out.push_back(child);
      else walk_fields(schemas, item, &props[key], child, patch, out);
    }
  } else if (value.is_object() && schema->contains("additionalProperties") && (*schema)["additionalProperties"].is_object()) {
    for (const auto& [key, item] : value.items())
      if (!(patch && key.rfind("$", 0) == 0)) walk_fields(schemas, item, &(*schema)["additionalProperties"], path + "[" + key + "]", patch, out);
  } else if (value.is_array() && schema->contains("items")) {
    for (std::size_t i = 0; i < value.size(); ++i)
      walk_fields(schemas, value[i], &(*schema)["items"], path + "[" + std::to_string(i) + "]", patch, out);
  }
}
}  // namespace

std::vector<std::string> OpenApiDocuments::unknown_fields(const ResourceType& t, const json& object, bool patch) const {
  std::vector<std::string> out;
  auto it = schema_of_kind_.find(t.group + "/" + t.version + "/" + t.kind);
  if (it == schema_of_kind_.end() || !object.is_object()) return out;
  walk_fields(schemas_, object, &schemas_[it->second], "", patch, out);
  return out;
}

}  // namespace sluice::standin
