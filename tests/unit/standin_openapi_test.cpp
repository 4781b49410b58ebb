// The stand-in's OpenAPI documents: per-group v3 documents hold what that group references, and
// the v2 protobuf decodes as gnostic's Document with the GVK extension kubectl's validation reads.
#include <doctest/doctest.h>

#include "object_defaults.h"
#include "openapi/openapi_v2.pb.h"
#include "openapi_documents.h"

using namespace sluice::standin;
using nlohmann::json;

namespace {
const OpenApiDocuments& documents() {
  static const ResourceCatalog catalog;
  static const OpenApiDocuments docs(catalog, STANDIN_OPENAPI_SCHEMAS);
  return docs;
}
}  // namespace

TEST_CASE("stand-in openapi: v3 lists every served group version with a content hash") {
  const auto& paths = documents().v3_root()["paths"];
  for (const char* gv : {"api/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1"}) {
    CAPTURE(gv);
    REQUIRE(paths.contains(gv));
    const std::string url = paths[gv]["serverRelativeURL"];
    CHECK(url.rfind(std::string("/openapi/v3/") + gv + "?hash=", 0) == 0);
  }
  CHECK(documents().v3_group_version("apis/batch/v1") == nullptr);
}

TEST_CASE("stand-in openapi: a v3 document holds its kinds and what they reference, nothing else") {
  const json* apps = documents().v3_group_version("apis/apps/v1");
  REQUIRE(apps);
  const auto& schemas = (*apps)["components"]["schemas"];
  CHECK(schemas.contains("io.k8s.api.apps.v1.Deployment"));
  CHECK(schemas.contains("io.k8s.api.core.v1.PodSpec"));  // through the pod template
  CHECK(schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  CHECK_FALSE(schemas.contains("io.k8s.api.core.v1.Pod"));
  CHECK_FALSE(schemas.contains("io.k8s.api.rbac.v1.ClusterRole"));
  CHECK((*apps)["paths"].contains("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"));
}

TEST_CASE("stand-in openapi: the v2 protobuf is gnostic's Document with references and extensions") {
  openapi::v2::Document doc;
  REQUIRE(doc.ParseFromString(documents().v2_protobuf()));
  CHECK(doc.swagger() == "2.0");
  const openapi::v2::Schema* pod = nullptr;
  for (const auto& named : doc.definitions().additional_properties())
    if (named.name() == "io.k8s.api.core.v1.Pod") pod = &named.value();
  REQUIRE(pod);
  CHECK(pod->type().value(0) == "object");
  std::string spec_ref, gvk;
  for (const auto& p : pod->properties().additional_properties())
    if (p.name() == "spec") spec_ref = p.value()._ref();
  for (const auto& ext : pod->vendor_extension())
    if (ext.name() == "x-kubernetes-group-version-kind") gvk = ext.value().yaml();
  CHECK(spec_ref == "#/definitions/io.k8s.api.core.v1.PodSpec");
  CHECK(json::parse(gvk) == json::parse(R"([{"group":"","kind":"Pod","version":"v1"}])"));
  CHECK(json::parse(documents().v2_json())["definitions"].size() ==
        static_cast<std::size_t>(doc.definitions().additional_properties_size()));
}

TEST_CASE("stand-in: ephemeral containers are only ever added, under names of their own") {
  const json before = json::parse(R"({"spec":{"containers":[{"name":"web","image":"nginx"}],
                                      "ephemeralContainers":[{"name":"dbg","image":"busybox"}]}})");
  json added = before;
  added["spec"]["ephemeralContainers"].push_back({{"name", "dbg2"}, {"image", "busybox"}});
  CHECK(validate_ephemeral_update(before, added).empty());

  json removed = before;
  removed["spec"].erase("ephemeralContainers");
  auto errs = validate_ephemeral_update(before, removed);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].detail == "existing ephemeral containers \"dbg\" may not be removed");

  json changed = before;
  changed["spec"]["ephemeralContainers"][0]["image"] = "alpine";
  errs = validate_ephemeral_update(before, changed);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].field == "spec.ephemeralContainers[0]");

  json clash = before;
  clash["spec"]["ephemeralContainers"].push_back({{"name", "web"}, {"image", "busybox"}, {"ports", json::array()}});
  errs = validate_ephemeral_update(before, clash);
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].type == "FieldValueDuplicate");
  CHECK(errs[1].field == "spec.ephemeralContainers[1].ports");
}
