// HTTP header fields in the order received, as every layer passes them (the front, the chain,
// the masking stage, the tunnel's request frames).
#pragma once
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A field name in lower case: how HTTP/2 sends names, and how they compare.
inline std::string lower_name(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The first value of field `name` (case-insensitive, as HTTP field names are); "" when absent.
inline std::string first_header(const HeaderList& headers, std::string_view name) {
  auto same = [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); };
  for (const auto& [k, v] : headers)
    if (std::equal(k.begin(), k.end(), name.begin(), name.end(), same)) return v;
  return {};
}

}  // namespace sluice
