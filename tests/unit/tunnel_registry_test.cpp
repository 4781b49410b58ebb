// The tunnel registry in process: tunnels per cluster, idle exchanges handed to waiting requests
// in order, a cancelled wait skipped, and an unknown cluster answered at once.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "gateway/tunnel/tunnel_registry.h"

using namespace sluice::gateway::tunnel;

TEST_CASE("tunnel registry: an idle exchange goes to the first request still waiting for it") {
  TunnelRegistry reg;
  CHECK(reg.acquire("c1", [](std::shared_ptr<ExchangeChannel>) { FAIL("no tunnel, no exchange"); }) == 0);
  unsigned asked = 0;
  const auto id = reg.add_tunnel("c1", "0.1.0", [&](unsigned n) { asked += n; });
  CHECK(reg.has_tunnel("c1"));
  CHECK_FALSE(reg.has_tunnel("c2"));
  CHECK(reg.cluster_of(id) == "c1");

  std::vector<int> got;
  std::shared_ptr<ExchangeChannel> first_ch;
  const auto first = reg.acquire("c1", [&](std::shared_ptr<ExchangeChannel> ch) { got.push_back(1); first_ch = ch; });
  const auto second = reg.acquire("c1", [&](std::shared_ptr<ExchangeChannel>) { got.push_back(2); });
  const auto third = reg.acquire("c1", [&](std::shared_ptr<ExchangeChannel>) { got.push_back(3); });
  CHECK(first != 0);
  CHECK(second != first);
  CHECK(asked == 6);  // each wait asks the agent for more exchange calls
  reg.cancel_wait("c1", second);  // that client went away

  auto a = std::make_shared<ExchangeChannel>(), b = std::make_shared<ExchangeChannel>();
  reg.add_idle(id, a, true);
  reg.add_idle(id, b, true);
  CHECK(got == std::vector<int>{1, 3});
  CHECK(first_ch == a);
  (void)third;

  // with nobody waiting, the next idle one is kept and handed out at once
  auto c = std::make_shared<ExchangeChannel>();
  reg.add_idle(id, c, true);
  std::shared_ptr<ExchangeChannel> now;
  reg.acquire("c1", [&](std::shared_ptr<ExchangeChannel> ch) { now = ch; });
  CHECK(now == c);

  auto stats = reg.tunnel_stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].cluster == "c1");
  CHECK(stats[0].calls == 3);
  CHECK(stats[0].exchanges == 3);

  reg.remove_tunnel(id);
  CHECK_FALSE(reg.has_tunnel("c1"));
  CHECK(reg.acquire("c1", [](std::shared_ptr<ExchangeChannel>) {}) == 0);
}

TEST_CASE("tunnel registry: requests are spread over a cluster's tunnels") {
  TunnelRegistry reg;
  const auto t1 = reg.add_tunnel("c1", "0.1.0", [](unsigned) {});
  const auto t2 = reg.add_tunnel("c1", "0.1.0", [](unsigned) {});
  for (int i = 0; i < 2; ++i) {
    reg.add_idle(t1, std::make_shared<ExchangeChannel>(), true);
    reg.add_idle(t2, std::make_shared<ExchangeChannel>(), true);
  }
  for (int i = 0; i < 4; ++i) reg.acquire("c1", [](std::shared_ptr<ExchangeChannel>) {});
  for (const auto& s : reg.tunnel_stats()) CHECK(s.exchanges == 2);
}
