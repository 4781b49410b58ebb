// Reads a policy file. Strict on purpose: an unknown key (a typo such as `verb:` for `verbs:`)
// would otherwise widen a rule to match everything, so it is an error, reported with its line and
// column like every other mistake in the file.
#pragma once
#include <optional>
#include <string>

#include "gateway/policy/policy.h"

namespace sluice::gateway::policy {

// nullopt and `error` ("FILE:LINE:COLUMN: what is wrong") when the file cannot be used.
std::optional<Policy> load_policy_file(const std::string& path, std::string& error);
std::optional<Policy> parse_policy(const std::string& yaml_text, const std::string& source_name, std::string& error);

// "90s", "10m", "2h", "1d" (also "1h30m"); nullopt when malformed.
std::optional<std::chrono::seconds> parse_duration(const std::string& text);
// The other way: 600s -> "10m", 5400s -> "1h30m", 90s -> "1m30s".
std::string format_duration(std::chrono::seconds d);

}  // namespace sluice::gateway::policy
