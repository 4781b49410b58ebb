#include "common/glob.h"

#include <algorithm>

namespace sluice::common {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Linear-time matching with one backtrack point (the last '*'): no recursion, so a hostile
  // pattern such as "*a*a*a*a*b" cannot blow up.
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

NameList::NameList(const std::vector<std::string>& patterns) : any_(patterns.empty()), patterns_(patterns) {
  for (const auto& p : patterns) {
    if (p == "*") any_ = true;
    if (p.find_first_of("*?") == std::string::npos) {
      exact_.push_back(p);
    } else {
      globs_.push_back(p);
    }
  }
  std::sort(exact_.begin(), exact_.end());
}

bool NameList::matches(std::string_view text) const {
  if (any_) return true;
  if (std::binary_search(exact_.begin(), exact_.end(), text)) return true;
  return std::any_of(globs_.begin(), globs_.end(), [&](const std::string& g) { return glob_match(g, text); });
}

}  // namespace sluice::common
