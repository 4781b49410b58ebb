// HTTP header fields in the order received, as every layer passes them (the front, the chain,
// the masking stage, the tunnel's request frames).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace sluice {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

}  // namespace sluice
