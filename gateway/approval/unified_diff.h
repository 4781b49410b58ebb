// A unified diff of two texts, line by line, in the format of `diff -u` (hunks with three lines of
// context), so a reviewer reads what a request would change in the live object. Pure code.
#pragma once
#include <string>

namespace sluice::gateway::approval {

// "" when the texts are equal. Texts over `max_lines` lines each are not compared line by line
// (the table would be too large); the result then says so.
std::string unified_diff(const std::string& before, const std::string& after, const std::string& before_label,
                         const std::string& after_label, std::size_t max_lines = 4000);

}  // namespace sluice::gateway::approval
