// The patch flavours kubectl sends, and the field sets server-side apply tracks ownership with.
#pragma once
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace sluice::standin {

// Strategic merge patch: lists with a known merge key merge element by element; directives
// ($patch, $retainKeys, $setElementOrder/, $deleteFromPrimitiveList/) are honoured and stripped.
void strategic_merge(nlohmann::json& target, const nlohmann::json& patch);

// Removes SMP directives from a value that is copied in whole.
nlohmann::json strip_directives(const nlohmann::json& value);

// The merge key the built-in types declare for a list field (empty: the list is atomic).
std::string merge_key_for(const std::string& field, const nlohmann::json& sample_element);

// Leaf paths of an object as server-side apply sees them, e.g. ".spec.containers[name=web].image".
// Server-managed metadata (uid, resourceVersion, managedFields, ...) and status are left out.
using FieldSet = std::set<std::string>;
FieldSet field_set_of(const nlohmann::json& object);
nlohmann::json fields_v1(const nlohmann::json& object);  // managedFields[].fieldsV1 for `object`
nlohmann::json fields_v1_from_set(const FieldSet& fields);
FieldSet field_set_from_v1(const nlohmann::json& fields_v1);
// Removes the field at a field-set path (a map key or a keyed list element), if present.
void erase_at(nlohmann::json& object, const std::string& path);
// Value at a field-set path, or nullptr when absent.
const nlohmann::json* value_at(const nlohmann::json& object, const std::string& path);

// YAML (or JSON, which is YAML) into JSON, for application/apply-patch+yaml bodies.
nlohmann::json yaml_to_json(const std::string& text);

}  // namespace sluice::standin
