// One place that configures spdlog for every Sluice binary (stderr, level from a flag).
#pragma once
#include <string_view>

namespace sluice::common {
// Accepts trace|debug|info|warn|error|off; anything else is an error the caller reports.
bool setup_logging(std::string_view level);
}
