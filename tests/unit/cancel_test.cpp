// Calling off work whose requester went away: the token itself, a tunnel fetch waiting for an
// exchange, and a policy check whose lookups are in flight (the policy stage's on_destroy).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <memory>
#include <optional>

#include "common/cancel.h"
#include "gateway/policy/policy_loader.h"
#include "gateway/server/policy_check.h"
#include "gateway/tunnel/tunnel_fetch.h"

namespace common = sluice::common;
namespace policy = sluice::gateway::policy;
namespace tunnel = sluice::gateway::tunnel;
using namespace sluice::gateway;
namespace net = boost::asio;

TEST_CASE("cancel token: hooks run once - a hook added after cancel runs at once") {
  auto c = common::make_cancel();
  int ran = 0;
  c->on_cancel([&] { ++ran; });
  CHECK_FALSE(c->cancelled());
  c->cancel();
  c->cancel();
  CHECK(ran == 1);
  CHECK(c->cancelled());
  c->on_cancel([&] { ran += 10; });
  CHECK(ran == 11);
}

namespace {
// The exchange a cancelled wait no longer takes is handed to the next request at once.
bool idle_exchange_waits(tunnel::TunnelRegistry& tunnels, const std::shared_ptr<tunnel::ExchangeChannel>& ch) {
  std::shared_ptr<tunnel::ExchangeChannel> got;
  tunnels.acquire("c1", [&](std::shared_ptr<tunnel::ExchangeChannel> c) { got = std::move(c); });
  return got == ch;
}
}  // namespace

TEST_CASE("cancel: a fetch waiting for an exchange stops at once and leaves the exchange to others") {
  net::io_context io;
  tunnel::TunnelRegistry tunnels;
  const auto tunnel_id = tunnels.add_tunnel("c1", "test", [](unsigned) {});
  auto cancel = common::make_cancel();
  std::optional<tunnel::FetchResult> result;
  tunnel::FetchRequest req;
  req.cluster = "c1";
  req.target = "/api/v1/namespaces/shop/pods/web";
  tunnel::fetch_through_tunnel(net::make_strand(io), tunnels, req, [&](tunnel::FetchResult r) { result = r; }, cancel);
  io.poll();
  CHECK_FALSE(result);  // no idle exchange: it waits (up to its 5 s timeout)
  cancel->cancel();
  io.poll();
  REQUIRE(result);
  CHECK(result->status == 0);
  CHECK(result->error == "cancelled");
  auto ch = std::make_shared<tunnel::ExchangeChannel>();
  tunnels.add_idle(tunnel_id, ch, true);
  CHECK(idle_exchange_waits(tunnels, ch));
}

TEST_CASE("cancel: a policy check with a live-object lookup in flight gives no verdict once cancelled") {
  net::io_context io;
  tunnel::TunnelRegistry tunnels;
  const auto tunnel_id = tunnels.add_tunnel("c1", "test", [](unsigned) {});
  std::string error;
  auto policy = policy::load_policy_file(std::string(SLUICE_SOURCE_DIR) + "/gateway/policy/default-policy.yaml", error);
  REQUIRE(policy);
  auto engine = std::make_shared<const policy::PolicyEngine>(std::move(*policy));
  const std::string target = "/api/v1/namespaces/shop/pods/node-shell/exec?command=sh&stdin=true&tty=true";
  PolicyQuestion q{"c1", Identity{"bot", "", {"ci"}, {}, "static-token"},
                   common::classify_request("GET", target).info, "GET", target, "", "", FetchAudit{}};
  auto cancel = common::make_cancel();
  bool decided = false;
  check_policy(net::make_strand(io), tunnels, engine, q, [&](PolicyVerdict) { decided = true; }, cancel);
  io.poll();
  CHECK_FALSE(decided);  // the exec is decided on the live pod, which is being read
  cancel->cancel();
  io.poll();
  CHECK_FALSE(decided);
  auto ch = std::make_shared<tunnel::ExchangeChannel>();
  tunnels.add_idle(tunnel_id, ch, true);
  CHECK(idle_exchange_waits(tunnels, ch));  // the lookup no longer waits for it

}
