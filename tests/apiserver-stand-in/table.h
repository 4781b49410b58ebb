// meta.k8s.io/v1 Table output, with the columns kube-apiserver's printers use for each kind.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::standin {

enum class IncludeObject { None, Metadata, Object };

IncludeObject parse_include_object(const std::string& query_value);

// `objects` are full objects of `kind`; `list_metadata` goes into the Table's metadata.
nlohmann::json make_table(const std::string& kind, const std::vector<const nlohmann::json*>& objects,
                          IncludeObject include, const nlohmann::json& list_metadata);

// "5s", "3m", "2d4h" as kubectl shows ages (duration.HumanDuration).
std::string human_duration(long long seconds);

}  // namespace sluice::standin
