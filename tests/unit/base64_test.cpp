// Standard base64 as Go's StdEncoding reads Secret data: padding only at the end, at most "==".
#include <doctest/doctest.h>

#include "common/base64.h"

using sluice::common::base64_decode;

TEST_CASE("base64: values decode with their padding, and more padding than a value can carry is refused") {
  CHECK(base64_decode("dmFsdWU=") == std::optional<std::string>("value"));
  CHECK(base64_decode("eA==") == std::optional<std::string>("x"));
  CHECK(base64_decode("") == std::optional<std::string>(""));
  // fuzz.masking's crash: 21 '=' made the length wrap below zero (std::length_error in the masker)
  CHECK_FALSE(base64_decode("eA8=====================").has_value());
  CHECK_FALSE(base64_decode("====").has_value());
  CHECK_FALSE(base64_decode("eA8=eA8=").has_value());  // padding inside the value
  CHECK_FALSE(base64_decode("eA=").has_value());
}
