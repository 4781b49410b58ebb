// X-Forwarded-For is believed only from trusted proxies, and only up to the first hop they did
// not add themselves.
#include <doctest/doctest.h>

#include "gateway/server/source_address.h"

using sluice::gateway::source_address;
using sluice::gateway::TrustedProxies;

TEST_CASE("source address: the peer unless a trusted proxy forwarded the request") {
  TrustedProxies none;
  CHECK(source_address("127.0.0.1", "203.0.113.9", none) == "127.0.0.1");

  TrustedProxies lb;
  std::string error;
  REQUIRE(lb.parse({"10.0.0.0/8", "192.0.2.7", "fd00::/8"}, error));
  CHECK(lb.contains("10.1.2.3"));
  CHECK_FALSE(lb.contains("11.0.0.1"));
  CHECK(lb.contains("192.0.2.7"));
  CHECK_FALSE(lb.contains("192.0.2.8"));
  CHECK(lb.contains("fd12::1"));
  CHECK_FALSE(lb.contains("fe80::1"));
  CHECK_FALSE(lb.contains("not-an-ip"));

  CHECK(source_address("198.51.100.1", "203.0.113.9", lb) == "198.51.100.1");           // untrusted peer
  CHECK(source_address("10.0.0.5", "", lb) == "10.0.0.5");                                // nothing forwarded
  CHECK(source_address("10.0.0.5", "203.0.113.9", lb) == "203.0.113.9");
  CHECK(source_address("10.0.0.5", "1.1.1.1, 203.0.113.9, 10.0.0.9", lb) == "203.0.113.9");  // rightmost untrusted
  CHECK(source_address("10.0.0.5", "10.0.0.8,10.0.0.9", lb) == "10.0.0.8");               // all trusted: the first
  CHECK(source_address("10.0.0.5", "203.0.113.9, bogus", lb) == "10.0.0.5");              // garbage after the peer
  CHECK(source_address("fd00::5", "2001:db8::1", lb) == "2001:db8::1");

  TrustedProxies bad;
  CHECK_FALSE(bad.parse({"10.0.0.0/33"}, error));
  CHECK(error.find("10.0.0.0/33") != std::string::npos);
  CHECK_FALSE(bad.parse({"example.com"}, error));
  CHECK_FALSE(bad.parse({"10.0.0.0/x"}, error));
}
