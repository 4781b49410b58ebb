// Kubernetes protobuf request bodies ("k8s\0" + runtime.Unknown + the typed message) into JSON.
// kubectl 1.32's typed clients (kubectl create namespace|secret|configmap|deployment|service|
// serviceaccount|role|rolebinding|clusterrole|clusterrolebinding) send these. The schema covers
// those kinds; a field it does not know is an error, never silently dropped.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sluice::standin {

// nullopt with `error` set when the body is not a Kubernetes protobuf envelope or holds a field
// or kind the schema does not cover.
std::optional<nlohmann::json> decode_k8s_protobuf(const std::string& body, std::string& error);

}  // namespace sluice::standin
