// Shell-style globs for name lists (policy rules, masking profiles): '*' matches any run of
// characters (also none), '?' one character; everything else matches itself. No character classes: names in Kubernetes never
// need them, and a policy author should not have to escape '[' in a user name.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace sluice::common {

bool glob_match(std::string_view pattern, std::string_view text);

// A list of exact names and globs, compiled once. An empty list (the key left out) matches
// everything; so does a list holding "*".
class NameList {
 public:
  NameList() = default;
  explicit NameList(const std::vector<std::string>& patterns);
  bool matches(std::string_view text) const;
  bool matches_everything() const { return any_; }
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  bool any_ = true;
  std::vector<std::string> patterns_;  // as written, for explanations
  std::vector<std::string> exact_;
  std::vector<std::string> globs_;
};

}  // namespace sluice::common
