// Standard base64 (RFC 4648, with padding), as PostgreSQL's decode(..., 'base64') and JSON readers
// of binary data expect it.
#pragma once
#include <string>
#include <string_view>

namespace sluice::common {
std::string base64_encode(std::string_view data);
}
