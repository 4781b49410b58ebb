#include <doctest/doctest.h>

#include "common/token_compare.h"

using namespace sluice::common;

TEST_CASE("sha256_hex matches the published test vector") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("").size() == 64);
}

TEST_CASE("constant_time_equals compares content, whatever the lengths") {
  CHECK(constant_time_equals("secret-token", "secret-token"));
  CHECK_FALSE(constant_time_equals("secret-token", "secret-tokeN"));
  CHECK_FALSE(constant_time_equals("secret-token", "secret-token-longer"));
  CHECK_FALSE(constant_time_equals("", "x"));
}

TEST_CASE("random tokens are hex of the requested size and differ") {
  auto a = random_token_hex(16), b = random_token_hex(16);
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
}
