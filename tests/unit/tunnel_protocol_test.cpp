// Version skew between agents and gateways (common/tunnel_protocol.h, proto/tunnel.proto).
#include <doctest/doctest.h>

#include "common/tunnel_protocol.h"
#include "proto/tunnel.pb.h"

using sluice::common::incompatible_agent;

TEST_CASE("tunnel protocol: agents from before the field speak protocol 1 and are served") {
  CHECK_FALSE(incompatible_agent(0, "0.1.0").has_value());
  CHECK_FALSE(incompatible_agent(sluice::common::kTunnelProtocol, "0.1.0").has_value());
  CHECK_FALSE(incompatible_agent(sluice::common::kTunnelProtocol + 5, "9.0.0").has_value());  // newer: its extras are ignored
}

TEST_CASE("tunnel protocol: an agent older than the gateway serves is refused with what to do") {
  const auto why = incompatible_agent(1, "0.1.0", 2);
  REQUIRE(why.has_value());
  CHECK(*why == "sluice-agent 0.1.0 speaks tunnel protocol 1, and this gateway needs at least 2: upgrade the agent to "
                "the gateway's release");
  CHECK(incompatible_agent(0, "", 2)->find("(version unknown)") != std::string::npos);
}

TEST_CASE("tunnel protocol: a Hello of the previous release reads the same, and so does a newer one") {
  // The previous agent's Hello: fields 1-3 only. This release reads protocol 0, i.e. 1.
  sluice::tunnel::v1::Hello old_hello;
  old_hello.set_cluster("prod-eu");
  old_hello.set_agent_version("0.1.0");
  old_hello.set_agent_id("a1");
  sluice::tunnel::v1::Hello read;
  REQUIRE(read.ParseFromString(old_hello.SerializeAsString()));
  CHECK(read.cluster() == "prod-eu");
  CHECK(read.protocol() == 0);
  // A newer agent's Hello with a field this release does not know (number 99): still read, the
  // known fields intact, the unknown one kept aside, as an older gateway reads this release's.
  sluice::tunnel::v1::Hello mine = old_hello;
  mine.set_protocol(sluice::common::kTunnelProtocol);
  std::string wire = mine.SerializeAsString();
  wire += std::string("\x98\x06\x07", 3);  // field 99, varint 7
  REQUIRE(read.ParseFromString(wire));
  CHECK(read.cluster() == "prod-eu");
  CHECK(read.agent_id() == "a1");
  CHECK(read.protocol() == sluice::common::kTunnelProtocol);
  CHECK_FALSE(read.GetReflection()->GetUnknownFields(read).empty());
}
