// Standard base64 (RFC 4648, with padding), as PostgreSQL's decode(..., 'base64') and JSON readers
// of binary data expect it.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sluice::common {
std::string base64_encode(std::string_view data);
// nullopt when `in` is not standard padded base64 (a length that is no multiple of 4, a foreign byte).
std::optional<std::string> base64_decode(std::string_view in);
// base64url without padding, as JWS uses it; nullopt on any other character.
std::optional<std::string> base64url_decode(std::string_view in);
std::string base64url_encode(std::string_view in);
}
