#include <doctest/doctest.h>

#include "patch.h"

using namespace sluice::standin;
using json = nlohmann::json;

TEST_CASE("strategic merge merges containers by name and keeps the others") {
  json live = json::parse(R"({"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}})");
  strategic_merge(live, json::parse(R"({"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],
                                      "containers":[{"name":"b","image":"b:2"}]}})"));
  REQUIRE(live["spec"]["containers"].size() == 2);
  CHECK(live["spec"]["containers"][0]["image"] == "a:1");
  CHECK(live["spec"]["containers"][1]["image"] == "b:2");
  CHECK_FALSE(live["spec"].contains("$setElementOrder/containers"));
}

TEST_CASE("strategic merge directives: delete an element, null removes a key, replace a map") {
  json live = json::parse(R"({"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"containers":[{"name":"a"},{"name":"b"}]}})");
  strategic_merge(live, json::parse(R"({"metadata":{"labels":{"a":null}},"spec":{"containers":[{"name":"a","$patch":"delete"}]}})"));
  CHECK(live["metadata"]["labels"] == json::parse(R"({"b":"2"})"));
  REQUIRE(live["spec"]["containers"].size() == 1);
  CHECK(live["spec"]["containers"][0]["name"] == "b");
  strategic_merge(live, json::parse(R"({"metadata":{"labels":{"$patch":"replace","c":"3"}}})"));
  CHECK(live["metadata"]["labels"] == json::parse(R"({"c":"3"})"));
}

TEST_CASE("lists without a merge key are replaced - finalizers are merged as a set") {
  json live = json::parse(R"({"rules":[{"verbs":["get"]}],"metadata":{"finalizers":["a"]}})");
  strategic_merge(live, json::parse(R"({"rules":[{"verbs":["list"]}],"metadata":{"finalizers":["b","a"]}})"));
  CHECK(live["rules"] == json::parse(R"([{"verbs":["list"]}])"));
  CHECK(live["metadata"]["finalizers"] == json::parse(R"(["a","b"])"));
}

TEST_CASE("field sets name keyed list elements and round-trip through fieldsV1") {
  json obj = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","uid":"u","labels":{"app":"web"}},
    "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"nginx"}]}}},
    "status":{"replicas":2}})");
  auto set = field_set_of(obj);
  CHECK(set.count(".spec.replicas") == 1);
  CHECK(set.count(".metadata.labels.app") == 1);
  CHECK(set.count(".spec.template.spec.containers[name=web].image") == 1);
  CHECK(set.count(".metadata.name") == 0);  // identity, not owned
  CHECK(set.count(".status.replicas") == 0);
  auto v1 = fields_v1(obj);
  CHECK(v1["f:spec"]["f:replicas"].is_object());
  CHECK(v1["f:spec"]["f:template"]["f:spec"]["f:containers"].contains(R"(k:{"name":"web"})"));
  CHECK(field_set_from_v1(v1) == set);
  REQUIRE(value_at(obj, ".spec.template.spec.containers[name=web].image"));
  CHECK(*value_at(obj, ".spec.template.spec.containers[name=web].image") == "nginx");
  erase_at(obj, ".spec.template.spec.containers[name=web]");
  CHECK(obj["spec"]["template"]["spec"]["containers"].empty());
}

TEST_CASE("apply bodies may be YAML or JSON") {
  auto j = yaml_to_json("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  n: \"1\"\n  b: 'true'\nspec:\n  replicas: 3\n");
  CHECK(j["kind"] == "ConfigMap");
  CHECK(j["data"]["n"] == "1");
  CHECK(j["data"]["b"] == "true");
  CHECK(j["spec"]["replicas"] == 3);
  CHECK(yaml_to_json(R"({"a":[1,2]})")["a"][1] == 2);
}

TEST_CASE("field paths escape keys that hold dots, as annotation and label keys do") {
  json obj = json::parse(R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"},
                                         "labels":{"app.kubernetes.io/name":"web"}}})");
  auto set = field_set_of(obj);
  REQUIRE(set.size() == 2);
  auto v1 = fields_v1(obj);
  CHECK(v1["f:metadata"]["f:annotations"].contains("f:kubectl.kubernetes.io/last-applied-configuration"));
  CHECK(v1["f:metadata"]["f:labels"].contains("f:app.kubernetes.io/name"));
  CHECK(field_set_from_v1(v1) == set);
  for (const auto& p : set) REQUIRE(value_at(obj, p));
  const std::string annotation = *set.begin();
  erase_at(obj, annotation);
  CHECK(value_at(obj, annotation) == nullptr);
  CHECK(obj["metadata"]["labels"]["app.kubernetes.io/name"] == "web");
}
