// The classifier against kube-apiserver's own RequestInfo rules (requestinfo.go and its tests,
// the API conventions' URL forms), plus KEP-4006's `create` for exec/attach/portforward.
#include <doctest/doctest.h>

#include "common/request_info.h"

using sluice::common::Classification;
using sluice::common::classify_request;
using sluice::common::decode_query;
using sluice::common::percent_decode;

namespace {

struct Case {
  const char* method;
  const char* target;
  const char* verb;
  bool resource;
  const char* group;
  const char* version;
  const char* ns;
  const char* resource_name;  // the resource, e.g. "pods"
  const char* subresource;
  const char* name;
};

// clang-format off
const Case kCases[] = {
  // core group, namespaced
  {"GET",    "/api/v1/namespaces/default/pods",                      "list",   true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods/web-0",                "get",    true, "", "v1", "default", "pods", "", "web-0"},
  {"HEAD",   "/api/v1/namespaces/default/pods/web-0",                "get",    true, "", "v1", "default", "pods", "", "web-0"},
  {"POST",   "/api/v1/namespaces/default/pods",                      "create", true, "", "v1", "default", "pods", "", ""},
  {"PUT",    "/api/v1/namespaces/default/pods/web-0",                "update", true, "", "v1", "default", "pods", "", "web-0"},
  {"PATCH",  "/api/v1/namespaces/default/pods/web-0",                "patch",  true, "", "v1", "default", "pods", "", "web-0"},
  {"DELETE", "/api/v1/namespaces/default/pods/web-0",                "delete", true, "", "v1", "default", "pods", "", "web-0"},
  {"DELETE", "/api/v1/namespaces/default/pods",                      "deletecollection", true, "", "v1", "default", "pods", "", ""},
  {"DELETE", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb", "deletecollection", true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods/web-0/log",            "get",    true, "", "v1", "default", "pods", "log", "web-0"},
  {"GET",    "/api/v1/namespaces/default/pods/web-0/log?follow=true","get",    true, "", "v1", "default", "pods", "log", "web-0"},
  {"GET",    "/api/v1/namespaces/default/pods/web-0/status",         "get",    true, "", "v1", "default", "pods", "status", "web-0"},
  {"PUT",    "/api/v1/namespaces/default/pods/web-0/status",         "update", true, "", "v1", "default", "pods", "status", "web-0"},
  {"POST",   "/api/v1/namespaces/default/pods/web-0/eviction",       "create", true, "", "v1", "default", "pods", "eviction", "web-0"},
  {"POST",   "/api/v1/namespaces/default/pods/web-0/binding",        "create", true, "", "v1", "default", "pods", "binding", "web-0"},
  {"PATCH",  "/api/v1/namespaces/default/pods/web-0/ephemeralcontainers", "patch", true, "", "v1", "default", "pods", "ephemeralcontainers", "web-0"},
  // exec, attach, port-forward: create for WebSocket GET and SPDY POST alike (KEP-4006)
  {"GET",    "/api/v1/namespaces/default/pods/web-0/exec?command=sh&stdin=true&tty=true", "create", true, "", "v1", "default", "pods", "exec", "web-0"},
  {"POST",   "/api/v1/namespaces/default/pods/web-0/exec?command=ls",  "create", true, "", "v1", "default", "pods", "exec", "web-0"},
  {"GET",    "/api/v1/namespaces/default/pods/web-0/attach?stdin=true","create", true, "", "v1", "default", "pods", "attach", "web-0"},
  {"POST",   "/api/v1/namespaces/default/pods/web-0/attach",           "create", true, "", "v1", "default", "pods", "attach", "web-0"},
  {"GET",    "/api/v1/namespaces/default/pods/web-0/portforward?ports=8080", "create", true, "", "v1", "default", "pods", "portforward", "web-0"},
  {"POST",   "/api/v1/namespaces/default/pods/web-0/portforward",      "create", true, "", "v1", "default", "pods", "portforward", "web-0"},
  // an "exec" subresource of something that is not a core pod keeps the method's verb
  {"GET",    "/apis/example.com/v1/namespaces/default/pods/x/exec",   "get",    true, "example.com", "v1", "default", "pods", "exec", "x"},
  // proxy: subresource by method, legacy /proxy/ prefix is its own verb without subresources
  {"GET",    "/api/v1/namespaces/default/pods/web-0/proxy/metrics",   "get",    true, "", "v1", "default", "pods", "proxy", "web-0"},
  {"POST",   "/api/v1/namespaces/default/services/web:http/proxy/api","create", true, "", "v1", "default", "services", "proxy", "web:http"},
  {"GET",    "/api/v1/nodes/node-1/proxy/stats/summary",               "get",    true, "", "v1", "", "nodes", "proxy", "node-1"},
  {"GET",    "/api/v1/proxy/namespaces/default/pods/web-0/healthz",    "proxy",  true, "", "v1", "default", "pods", "", "web-0"},
  {"GET",    "/api/v1/proxy/nodes/node-1/stats",                       "proxy",  true, "", "v1", "", "nodes", "", "node-1"},
  // watch: query forms and the legacy /watch/ prefix
  {"GET",    "/api/v1/namespaces/default/pods?watch=true",             "watch",  true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods?watch=1",                "watch",  true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods?watch=TRUE&resourceVersion=10", "watch", true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods?watch=yes",              "watch",  true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods?watch=false",            "list",   true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods?watch=0",                "list",   true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods?watch=False",            "list",   true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/pods?watch=true&allowWatchBookmarks=true",       "watch",  true, "", "v1", "", "pods", "", ""},
  {"GET",    "/api/v1/watch/namespaces/default/pods",                  "watch",  true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/watch/namespaces/default/pods/web-0",            "watch",  true, "", "v1", "default", "pods", "", "web-0"},
  {"GET",    "/api/v1/watch/pods",                                     "watch",  true, "", "v1", "", "pods", "", ""},
  {"GET",    "/apis/apps/v1/watch/namespaces/prod/deployments",        "watch",  true, "apps", "v1", "prod", "deployments", "", ""},
  // kubectl get pod NAME -w: a watch narrowed to one name by field selector
  {"GET",    "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0&watch=true", "watch", true, "", "v1", "default", "pods", "", "web-0"},
  {"GET",    "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D%3Dweb-0", "list", true, "", "v1", "default", "pods", "", "web-0"},
  {"GET",    "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%21%3Dweb-0", "list", true, "", "v1", "default", "pods", "", ""},
  {"GET",    "/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning,metadata.name%3Dweb-1", "list", true, "", "v1", "default", "pods", "", "web-1"},
  {"GET",    "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D..", "list", true, "", "v1", "default", "pods", "", ""},
  // cluster-scoped core resources; namespaces are their own namespace
  {"GET",    "/api/v1/nodes",                                          "list",   true, "", "v1", "", "nodes", "", ""},
  {"GET",    "/api/v1/nodes/node-1",                                   "get",    true, "", "v1", "", "nodes", "", "node-1"},
  {"GET",    "/api/v1/namespaces",                                     "list",   true, "", "v1", "", "namespaces", "", ""},
  {"POST",   "/api/v1/namespaces",                                     "create", true, "", "v1", "", "namespaces", "", ""},
  {"GET",    "/api/v1/namespaces/kube-system",                         "get",    true, "", "v1", "kube-system", "namespaces", "", "kube-system"},
  {"DELETE", "/api/v1/namespaces/team-a",                              "delete", true, "", "v1", "team-a", "namespaces", "", "team-a"},
  {"PUT",    "/api/v1/namespaces/team-a/finalize",                     "update", true, "", "v1", "team-a", "namespaces", "finalize", "team-a"},
  {"GET",    "/api/v1/namespaces/team-a/status",                       "get",    true, "", "v1", "team-a", "namespaces", "status", "team-a"},
  {"GET",    "/api/v1/persistentvolumes/pv-1",                         "get",    true, "", "v1", "", "persistentvolumes", "", "pv-1"},
  {"GET",    "/api/v1/secrets",                                        "list",   true, "", "v1", "", "secrets", "", ""},
  {"GET",    "/api/v1/namespaces/default/secrets/db",                  "get",    true, "", "v1", "default", "secrets", "", "db"},
  {"POST",   "/api/v1/namespaces/default/serviceaccounts/builder/token", "create", true, "", "v1", "default", "serviceaccounts", "token", "builder"},
  // named groups
  {"GET",    "/apis/apps/v1/namespaces/prod/deployments",              "list",   true, "apps", "v1", "prod", "deployments", "", ""},
  {"PATCH",  "/apis/apps/v1/namespaces/prod/deployments/api",          "patch",  true, "apps", "v1", "prod", "deployments", "", "api"},
  {"PUT",    "/apis/apps/v1/namespaces/prod/deployments/api/scale",    "update", true, "apps", "v1", "prod", "deployments", "scale", "api"},
  {"GET",    "/apis/apps/v1/deployments",                              "list",   true, "apps", "v1", "", "deployments", "", ""},
  {"POST",   "/apis/rbac.authorization.k8s.io/v1/clusterroles",        "create", true, "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", ""},
  {"PUT",    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/admins", "update", true, "rbac.authorization.k8s.io", "v1", "", "clusterrolebindings", "", "admins"},
  {"DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings/edit", "delete", true, "rbac.authorization.k8s.io", "v1", "dev", "rolebindings", "", "edit"},
  {"PATCH",  "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/gk?fieldManager=kubectl-client-side-apply", "patch", true, "admissionregistration.k8s.io", "v1", "", "validatingwebhookconfigurations", "", "gk"},
  {"POST",   "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "create", true, "authorization.k8s.io", "v1", "", "selfsubjectaccessreviews", "", ""},
  {"GET",    "/apis/batch/v1/namespaces/ci/jobs/build-1/status",       "get",    true, "batch", "v1", "ci", "jobs", "status", "build-1"},
  {"GET",    "/apis/stable.example.com/v1/namespaces/default/crontabs", "list",  true, "stable.example.com", "v1", "default", "crontabs", "", ""},
  {"GET",    "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",   "list",   true, "metrics.k8s.io", "v1beta1", "default", "pods", "", ""},
  {"GET",    "/apis/apps/v1/namespaces/prod/deployments/",             "list",   true, "apps", "v1", "prod", "deployments", "", ""},
  // percent-encoded segments are decoded before they are split, as Go's URL.Path is
  {"GET",    "/api/v1/namespaces/default/configmaps/a%3Ab",            "get",    true, "", "v1", "default", "configmaps", "", "a:b"},
  {"GET",    "/api/v1/namespaces/default/pods%2Fweb-0",                "get",    true, "", "v1", "default", "pods", "", "web-0"},
  // non-resource requests keep the lower-cased method as their verb
  {"GET",    "/",                                                      "get",    false, "", "", "", "", "", ""},
  {"GET",    "/api",                                                   "get",    false, "", "", "", "", "", ""},
  {"GET",    "/api/v1",                                                "get",    false, "", "", "", "", "", ""},
  {"GET",    "/apis",                                                  "get",    false, "", "", "", "", "", ""},
  {"GET",    "/apis/apps",                                             "get",    false, "", "", "", "", "", ""},
  {"GET",    "/apis/apps/v1",                                          "get",    false, "", "", "", "", "", ""},
  {"GET",    "/healthz",                                               "get",    false, "", "", "", "", "", ""},
  {"GET",    "/livez?verbose",                                         "get",    false, "", "", "", "", "", ""},
  {"GET",    "/openapi/v3/apis/apps/v1",                               "get",    false, "", "", "", "", "", ""},
  {"GET",    "/version",                                               "get",    false, "", "", "", "", "", ""},
  {"POST",   "/logs/kube-apiserver.log",                               "post",   false, "", "", "", "", "", ""},
};
// clang-format on

}  // namespace

TEST_CASE("classify_request: the table of paths and methods") {
  CHECK(std::size(kCases) >= 60);
  for (const Case& c : kCases) {
    CAPTURE(c.method);
    CAPTURE(c.target);
    auto result = classify_request(c.method, c.target);
    REQUIRE(result.ok());
    const auto& info = result.info;
    CHECK(info.verb == c.verb);
    CHECK(info.is_resource_request == c.resource);
    CHECK(info.api_group == c.group);
    CHECK(info.api_version == c.version);
    CHECK(info.namespace_name == c.ns);
    CHECK(info.resource == c.resource_name);
    CHECK(info.subresource == c.subresource);
    CHECK(info.name == c.name);
  }
}

TEST_CASE("classify_request: dryRun, fieldManager, selectors and the decoded path") {
  auto r = classify_request("PATCH",
                            "/apis/apps/v1/namespaces/prod/deployments/api?dryRun=All&fieldManager=kubectl%20edit"
                            "&labelSelector=tier+in+(web)");
  REQUIRE(r.ok());
  CHECK(r.info.dry_run);
  CHECK(r.info.field_manager == "kubectl edit");
  CHECK(r.info.label_selector == "tier in (web)");
  CHECK(r.info.path == "/apis/apps/v1/namespaces/prod/deployments/api");
  CHECK(r.info.resource_with_subresource() == "deployments");
  CHECK(classify_request("GET", "/api/v1/namespaces/a/pods/b/exec").info.resource_with_subresource() == "pods/exec");
  auto parts = classify_request("GET", "/api/v1/namespaces/a/pods/b/proxy/x/y").info.parts;
  CHECK(parts == std::vector<std::string>{"pods", "b", "proxy", "x", "y"});
}

TEST_CASE("classify_request: what cannot be understood is refused, never guessed") {
  for (const char* target : {"", "pods", "http://example.com/api/v1/pods", "/api/v1/watch", "/apis/apps/v1/proxy",
                             "/api/v1/namespaces/default/pods/%zz", "/api/v1/namespaces/default/pods/%4",
                             "/api/v1//pods", "/api/v1/namespaces/default/pods/../secrets/x",
                             "/api/v1/namespaces/./pods", "/api/v1/namespaces/default/pods/a%2F..%2Fb",
                             "/api/v1/pods\x01"}) {
    CAPTURE(target);
    auto r = classify_request("GET", target);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.error.empty());
  }
}

TEST_CASE("classify_request: dryRun other than All is 422 Invalid, as ValidateDryRun answers") {
  for (const char* target : {"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?dryRun=",
                             "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?dryRun",
                             "/api/v1/namespaces/a/pods/b?dryRun=None", "/api/v1/namespaces/a/pods/b?dryRun=all",
                             "/api/v1/namespaces/a/pods/b?dryRun=All%20"}) {
    CAPTURE(target);
    auto r = classify_request("POST", target);
    CHECK_FALSE(r.ok());
    CHECK(r.code == 422);
    CHECK(r.reason == "Invalid");
    CHECK(r.cause_reason == "FieldValueNotSupported");
    CHECK(r.cause_field == "dryRun");
  }
  CHECK(classify_request("POST", "/api/v1/namespaces/a/pods?dryRun=All").info.dry_run);
}

TEST_CASE("classify_request: a repeated query key is refused, but exec's command and ports may repeat") {
  for (const char* target : {"/api/v1/namespaces/a/pods?dryRun=All&dryRun=All",
                             "/api/v1/namespaces/a/pods?watch=0&watch=1",
                             "/api/v1/pods?fieldSelector=metadata.name%3Da&fieldSelector=metadata.name%3Db",
                             "/api/v1/namespaces/a/pods/b?propagationPolicy=Orphan&propagationPolicy=Foreground",
                             "/api/v1/namespaces/a/pods?x=%zz", "/api/v1/namespaces/a/pods?a=1;b=2"}) {
    CAPTURE(target);
    auto r = classify_request("POST", target);
    CHECK_FALSE(r.ok());
    CHECK(r.code == 400);
  }
  CHECK(classify_request("POST", "/api/v1/namespaces/a/pods/b/exec?command=sh&command=-c&command=id&stdout=1").ok());
  CHECK(classify_request("GET", "/api/v1/namespaces/a/pods/b/portforward?ports=80&ports=443").ok());
}

namespace {
void check_method_not_allowed(const Classification& r) {
  CHECK_FALSE(r.ok());
  CHECK(r.code == 405);
  CHECK(r.reason == "MethodNotAllowed");
}
}  // namespace

TEST_CASE("classify_request: only GET and HEAD are served under /watch/ and /proxy/ (405)") {
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT"}) {
    for (const char* target : {"/apis/rbac.authorization.k8s.io/v1/watch/clusterrolebindings",
                               "/api/v1/watch/namespaces/kube-system", "/api/v1/watch/namespaces/kube-system/configmaps",
                               "/api/v1/proxy/namespaces/a/pods/b", "/api/v1/proxy/nodes/n1/exec/a/b/c"}) {
      CAPTURE(method);
      CAPTURE(target);
      check_method_not_allowed(classify_request(method, target));
    }
  }
  CHECK(classify_request("HEAD", "/api/v1/watch/namespaces/a/pods").info.verb == "watch");
}

TEST_CASE("classify_request: a method kube-apiserver does not route is refused (405), never given a verb") {
  // The fuzzer's find: WATCH on /proxy/... was a non-resource "watch" that no rule can judge.
  for (const char* method : {"WATCH", "OPTIONS", "CONNECT", "TRACE", "PROPFIND", "get", "Post", "LIST", ""}) {
    for (const char* target : {"/proxy/nodes/n2/x", "/api/v1/namespaces/kube-system/secrets", "/version",
                               "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x"}) {
      CAPTURE(method);
      CAPTURE(target);
      check_method_not_allowed(classify_request(method, target));
    }
  }
}

TEST_CASE("classify_request: control characters are refused after %-decoding too") {
  for (const char* target : {"/api/v1/namespaces/a%00b/pods", "/api/v1/namespaces/a/pods/b%0a", "/api/v1/pods%7f",
                             "/api/v1/namespaces/a/secrets/s%0d%0aX-Injected:%201"}) {
    CAPTURE(target);
    CHECK_FALSE(classify_request("GET", target).ok());
  }
}

TEST_CASE("decode_query follows Go's url.ParseQuery") {
  auto q = decode_query("a=1&b=two+words&c=%41%62&a=2&&d&e=&bad=%zz&semi=1;x=2&f=x=y");
  CHECK_FALSE(q.ok);
  std::vector<std::pair<std::string, std::string>> expected{{"a", "1"}, {"b", "two words"}, {"c", "Ab"}, {"a", "2"},
                                                            {"d", ""},  {"e", ""},          {"f", "x=y"}};
  CHECK(q.params == expected);
  CHECK(decode_query("").params.empty());
  CHECK(decode_query("").ok);
  CHECK(percent_decode("a+b%20c", false) == "a+b c");
  CHECK(percent_decode("a+b%20c", true) == "a b c");
  CHECK_FALSE(percent_decode("%", false));
  CHECK_FALSE(percent_decode("%a", false));
  CHECK(percent_decode("%aF", false) == std::string("\xaf"));
}
