#include <doctest/doctest.h>

#include "api_server.h"

using sluice::standin::parse_resource_path;

TEST_CASE("resource paths resolve as kube-apiserver's RequestInfo does") {
  struct Case {
    const char* path;
    const char* group;
    const char* ns;
    const char* resource;
    const char* name;
    const char* sub;
    bool watch;
  };
  const Case cases[] = {
      {"/api/v1/pods", "", "", "pods", "", "", false},
      {"/api/v1/namespaces/default/pods", "", "default", "pods", "", "", false},
      {"/api/v1/namespaces/default/pods/web", "", "default", "pods", "web", "", false},
      {"/api/v1/namespaces/default/pods/web/exec", "", "default", "pods", "web", "exec", false},
      {"/api/v1/namespaces/kube-system", "", "kube-system", "namespaces", "kube-system", "", false},
      {"/api/v1/namespaces/x/status", "", "x", "namespaces", "x", "status", false},
      {"/api/v1/namespaces", "", "", "namespaces", "", "", false},
      {"/apis/apps/v1/namespaces/a/deployments/d/scale", "apps", "a", "deployments", "d", "scale", false},
      {"/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "rbac.authorization.k8s.io", "", "clusterroles", "admin", "", false},
      {"/api/v1/watch/namespaces/a/pods", "", "a", "pods", "", "", true},
      {"/api/v1/watch/pods", "", "", "pods", "", "", true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.path);
    auto rp = parse_resource_path(c.path);
    REQUIRE(rp);
    CHECK(rp->group == c.group);
    CHECK(rp->ns == c.ns);
    CHECK(rp->resource == c.resource);
    CHECK(rp->name == c.name);
    CHECK(rp->subresource == c.sub);
    CHECK(rp->legacy_watch == c.watch);
  }
  CHECK_FALSE(parse_resource_path("/api"));
  CHECK_FALSE(parse_resource_path("/apis/apps"));
  CHECK_FALSE(parse_resource_path("/api/v1/namespaces/a/pods/b/exec/extra"));
  CHECK_FALSE(parse_resource_path("/healthz"));
}
