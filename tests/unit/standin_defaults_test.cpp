#include <doctest/doctest.h>

#include "object_defaults.h"
#include "table.h"

using namespace sluice::standin;
using json = nlohmann::json;

TEST_CASE("a pod without containers is invalid, with the API server's message") {
  ResourceCatalog catalog;
  const auto& pods = *catalog.find("", "v1", "pods");
  auto errs = validate_object(pods, json::parse(R"({"metadata":{"name":"p"},"spec":{}})"));
  REQUIRE(errs.size() == 1);
  auto st = invalid_status(pods, "p", errs);
  CHECK(st["code"] == 422);
  CHECK(st["reason"] == "Invalid");
  CHECK(st["message"] == "Pod \"p\" is invalid: spec.containers: Required value");
  CHECK(st["details"]["causes"][0]["field"] == "spec.containers");
}

TEST_CASE("names must be DNS subdomains, namespaces DNS labels") {
  ResourceCatalog catalog;
  CHECK_FALSE(validate_object(*catalog.find("", "v1", "configmaps"), json::parse(R"({"metadata":{"name":"Bad_Name"}})")).empty());
  CHECK(validate_object(*catalog.find("", "v1", "configmaps"), json::parse(R"({"metadata":{"name":"a.b-c"}})")).empty());
  CHECK_FALSE(validate_object(*catalog.find("", "v1", "namespaces"), json::parse(R"({"metadata":{"name":"a.b"}})")).empty());
  CHECK(validate_object(*catalog.find("rbac.authorization.k8s.io", "v1", "clusterroles"),
                        json::parse(R"({"metadata":{"name":"system:controller:x"}})")).empty());
}

TEST_CASE("secret stringData becomes base64 data") {
  ResourceCatalog catalog;
  Allocator alloc;
  json s = json::parse(R"({"metadata":{"name":"s"},"stringData":{"password":"hunter2"}})");
  apply_defaults(*catalog.find("", "v1", "secrets"), s, alloc);
  CHECK(s["data"]["password"] == "aHVudGVyMg==");
  CHECK(s["type"] == "Opaque");
  CHECK_FALSE(s.contains("stringData"));
  CHECK(is_base64("aHVudGVyMg=="));
  CHECK_FALSE(is_base64("not base64!"));
}

TEST_CASE("tables have the columns kubectl prints for pods") {
  json pod = json::parse(R"({"metadata":{"name":"p","creationTimestamp":"2020-01-01T00:00:00Z"},
    "spec":{"containers":[{"name":"c"}]},"status":{"phase":"Running","containerStatuses":[{"ready":true}]}})");
  auto t = make_table("Pod", {&pod}, IncludeObject::Metadata, {{"resourceVersion", "1"}});
  CHECK(t["kind"] == "Table");
  CHECK(t["columnDefinitions"][0]["name"] == "Name");
  CHECK(t["rows"][0]["cells"][0] == "p");
  CHECK(t["rows"][0]["cells"][1] == "1/1");
  CHECK(t["rows"][0]["cells"][2] == "Running");
  CHECK(t["rows"][0]["object"]["kind"] == "PartialObjectMetadata");
  CHECK(human_duration(5) == "5s");
  CHECK(human_duration(300) == "5m");
  CHECK(human_duration(3 * 86400) == "3d");
}
