// Label and field selectors as the API server parses them (equality, set-based, existence).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sluice::standin {

struct Requirement {
  enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist };
  std::string key;
  Op op = Op::Equals;
  std::vector<std::string> values;
};

struct Selector {
  std::vector<Requirement> requirements;
  bool empty() const { return requirements.empty(); }
};

// nullopt with `error` set when the text does not parse.
std::optional<Selector> parse_label_selector(const std::string& text, std::string& error);
std::optional<Selector> parse_field_selector(const std::string& text, std::string& error);

bool matches_labels(const Selector& s, const nlohmann::json& object);
// Field paths such as metadata.name, metadata.namespace, status.phase, involvedObject.uid.
bool matches_fields(const Selector& s, const nlohmann::json& object);

}  // namespace sluice::standin
