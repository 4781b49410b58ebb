#include "gateway/approval/unified_diff.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sluice::gateway::approval {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

struct Edit {
  char op;  // ' ', '-', '+'
  std::size_t a, b;  // line indexes in before / after (the one that applies)
};

// Longest common subsequence by dynamic programming from the end, then one walk forward:
// deletions before insertions at each change, as diff prints them.
std::vector<Edit> edit_script(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> std::uint32_t& { return lcs[i * (m + 1) + j]; };
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
  std::vector<Edit> out;
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out.push_back({' ', i++, j++});
    } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
      out.push_back({'-', i++, j});
    } else {
      out.push_back({'+', i, j++});
    }
  }
  return out;
}

std::string range(std::size_t start, std::size_t count) {
  // diff -u: a hunk of zero lines names the line before it
  if (count == 0) return std::to_string(start) + ",0";
  if (count == 1) return std::to_string(start + 1);
  return std::to_string(start + 1) + "," + std::to_string(count);
}

}  // namespace

std::string unified_diff(const std::string& before, const std::string& after, const std::string& before_label,
                         const std::string& after_label, std::size_t max_lines) {
  if (before == after) return "";
  const auto a = split_lines(before), b = split_lines(after);
  std::string out = "--- " + before_label + "\n+++ " + after_label + "\n";
  if (a.size() > max_lines || b.size() > max_lines)
    return out + "@@ not compared line by line: " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
           " lines (more than " + std::to_string(max_lines) + ") @@\n";
  const auto edits = edit_script(a, b);
  constexpr std::size_t kContext = 3;
  std::size_t k = 0;
  while (k < edits.size()) {
    if (edits[k].op == ' ') {
      ++k;
      continue;
    }
    // A hunk: from kContext lines before this change to kContext after the last change that is
    // at most 2 * kContext unchanged lines further on.
    std::size_t first = k >= kContext ? k - kContext : 0;
    while (first < k && edits[first].op != ' ') ++first;
    std::size_t last = k, unchanged = 0;
    for (std::size_t x = k; x < edits.size(); ++x) {
      if (edits[x].op == ' ') {
        if (++unchanged > 2 * kContext) break;
      } else {
        unchanged = 0;
        last = x;
      }
    }
    const std::size_t end = std::min(edits.size(), last + 1 + kContext);
    std::size_t a_count = 0, b_count = 0;
    for (std::size_t x = first; x < end; ++x) {
      if (edits[x].op != '+') ++a_count;
      if (edits[x].op != '-') ++b_count;
    }
    out += "@@ -" + range(edits[first].a, a_count) + " +" + range(edits[first].b, b_count) + " @@\n";
    for (std::size_t x = first; x < end; ++x) {
      const auto& e = edits[x];
      out += e.op;
      out += e.op == '+' ? b[e.b] : a[e.a];
      out += '\n';
    }
    k = end;
  }
  return out;
}

}  // namespace sluice::gateway::approval
