// Secrets are compared in constant time and stored only as SHA-256.
#pragma once
#include <string>
#include <string_view>

namespace sluice::common {

std::string sha256_hex(std::string_view data);

// Equal-length digests are compared, so neither content nor length leaks through timing.
bool constant_time_equals(std::string_view a, std::string_view b);

// A random token of `bytes` bytes, hex encoded, from the OpenSSL CSPRNG.
std::string random_token_hex(std::size_t bytes = 32);

}  // namespace sluice::common
