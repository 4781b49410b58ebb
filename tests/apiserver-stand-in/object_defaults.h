// What the API server's registry does to an object before storing it: validation with the
// real error shapes, and the defaults kubectl's output shows.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "resource_catalog.h"

namespace sluice::standin {

struct FieldError {
  std::string field;
  std::string type;  // FieldValueRequired, FieldValueInvalid, FieldValueForbidden, FieldValueDuplicate
  std::string detail;
  std::string value;
};

std::vector<FieldError> validate_object(const ResourceType& type, const nlohmann::json& object);
// A write to pods/NAME/ephemeralcontainers may only add ephemeral containers, with names no other
// container of the pod has.
std::vector<FieldError> validate_ephemeral_update(const nlohmann::json& before, const nlohmann::json& after);
// 422 Status: `Kind "name" is invalid: field: Required value`.
nlohmann::json invalid_status(const ResourceType& type, const std::string& name, const std::vector<FieldError>& errors);

struct Allocator {
  unsigned next_service_ip = 10;
  unsigned next_pod_ip = 5;
};

void apply_defaults(const ResourceType& type, nlohmann::json& object, Allocator& alloc);

std::string new_uid();
std::string now_rfc3339(long plus_seconds = 0);
std::string base64_encode(const std::string& in);
bool is_base64(const std::string& in);
// True when anything outside metadata and status differs (the API server then bumps generation).
bool spec_changed(const nlohmann::json& before, const nlohmann::json& after);

}  // namespace sluice::standin
