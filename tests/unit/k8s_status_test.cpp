#include <doctest/doctest.h>

#include "common/k8s_status.h"

using sluice::common::make_status;

TEST_CASE("a Status carries the code, the reason the API server uses for it, and the message") {
  auto s = make_status(404, "pods \"x\" not found");
  CHECK(s["kind"] == "Status");
  CHECK(s["apiVersion"] == "v1");
  CHECK(s["status"] == "Failure");
  CHECK(s["code"] == 404);
  CHECK(s["reason"] == "NotFound");
  CHECK(s["message"] == "pods \"x\" not found");
  CHECK_FALSE(s.contains("details"));
}

TEST_CASE("an explicit reason and details override the defaults") {
  auto s = make_status(409, "exists", "AlreadyExists", {{"name", "x"}});
  CHECK(s["reason"] == "AlreadyExists");
  CHECK(s["details"]["name"] == "x");
  CHECK(make_status(503, "down")["reason"] == "ServiceUnavailable");
  CHECK(make_status(401, "no")["reason"] == "Unauthorized");
  CHECK(make_status(599, "odd")["reason"] == "InternalError");
}
