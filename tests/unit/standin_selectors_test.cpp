#include <doctest/doctest.h>

#include "selectors.h"

using namespace sluice::standin;
using json = nlohmann::json;

namespace {
const json kPod = {{"metadata", {{"name", "web-1"}, {"namespace", "prod"}, {"labels", {{"app", "web"}, {"tier", "front"}}}}},
                   {"status", {{"phase", "Running"}}}};

bool labels(const std::string& text) {
  std::string err;
  auto s = parse_label_selector(text, err);
  REQUIRE_MESSAGE(s, err);
  return matches_labels(*s, kPod);
}
bool fields(const std::string& text) {
  std::string err;
  auto s = parse_field_selector(text, err);
  REQUIRE_MESSAGE(s, err);
  return matches_fields(*s, kPod);
}
}  // namespace

TEST_CASE("label selectors: equality, inequality, sets and existence") {
  CHECK(labels(""));
  CHECK(labels("app=web"));
  CHECK(labels("app==web"));
  CHECK_FALSE(labels("app=db"));
  CHECK(labels("app!=db"));
  CHECK(labels("app=web,tier=front"));
  CHECK_FALSE(labels("app=web,tier=back"));
  CHECK(labels("tier in (front, back)"));
  CHECK_FALSE(labels("tier notin (front)"));
  CHECK(labels("app"));
  CHECK_FALSE(labels("!app"));
  CHECK(labels("!missing"));
  CHECK(labels("missing!=x"));
}

TEST_CASE("field selectors read dotted paths of the object") {
  CHECK(fields("metadata.name=web-1"));
  CHECK_FALSE(fields("metadata.name=web-2"));
  CHECK(fields("metadata.namespace=prod,status.phase=Running"));
  CHECK(fields("status.phase!=Pending"));
  CHECK(fields("spec.nodeName="));  // absent compares as empty, as kubectl describe relies on
}

TEST_CASE("malformed selectors are refused with a message") {
  std::string err;
  CHECK_FALSE(parse_field_selector("metadata.name", err));
  CHECK(err.find("metadata.name") != std::string::npos);
  CHECK_FALSE(parse_label_selector("a in (x", err));
  CHECK_FALSE(parse_label_selector("a=b,,c=d", err));
}
