// Masking: Secret values and profile fields in JSON responses (whole and streamed in pieces),
// regex detectors over text streams and exec's WebSocket frames, and the request rewrite.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <random>

#include "gateway/masking/json_stream_masker.h"
#include "gateway/masking/response_masking.h"
#include "gateway/masking/stream_redactor.h"
#include "gateway/masking/websocket_redactor.h"

using namespace sluice::gateway::masking;
using nlohmann::json;

namespace {

const std::string kValue = "c3VwZXItc2VjcmV0LXZhbHVl";  // base64 of super-secret-value
const std::string kPlain = "hunter2-plain";

json secret(const std::string& name) {
  json s = {{"metadata",
             {{"name", name},
              {"namespace", "shop"},
              {"annotations",
               {{"kubectl.kubernetes.io/last-applied-configuration",
                 R"({"apiVersion":"v1","data":{"pw":")" + kValue + R"("},"kind":"Secret","metadata":{"name":")" + name +
                     R"("}})" "\n"}}}}},
            {"data", {{"pw", kValue}, {"token", kValue}}},
            {"stringData", {{"plain", kPlain}}},
            {"type", "Opaque"}};
  return s;
}

MaskScope secrets_scope() {
  MaskScope s;
  s.secrets = true;
  s.api_group = "";
  s.resource = "secrets";
  return s;
}

// Feeds `body` in pieces of `piece` bytes (0: all at once) and returns what came out.
std::string run(const std::string& body, const MaskScope& scope, std::size_t piece, bool* ok = nullptr) {
  JsonStreamMasker m(scope);
  std::string out;
  bool good = true;
  if (piece == 0) piece = body.size() + 1;
  for (std::size_t at = 0; at < body.size() && good; at += piece) good = m.feed(std::string_view(body).substr(at, piece), out);
  if (good) good = m.finish(out);
  if (ok) *ok = good;
  return out;
}

bool leaks(const std::string& text) {
  return text.find(kValue) != std::string::npos || text.find(kPlain) != std::string::npos;
}

std::shared_ptr<MaskingProfile> profile_with(const std::string& group, const std::string& resource,
                                             const std::string& path) {
  auto p = std::make_shared<MaskingProfile>(*default_profile());
  std::string error;
  auto steps = parse_field_path(path, error);
  REQUIRE_MESSAGE(steps, error);
  p->fields.push_back({group, resource, path, *steps});
  return p;
}

}  // namespace

TEST_CASE("a Secret's values are masked, its keys stay, also in the last-applied annotation") {
  const json s = secret("db");
  const std::string body = R"({"kind":"Secret","apiVersion":"v1","metadata":)" + s["metadata"].dump() +
                           R"(,"data":)" + s["data"].dump() + R"(,"stringData":)" + s["stringData"].dump() +
                           R"(,"type":"Opaque"})" "\n";
  bool ok = false;
  const auto out = run(body, secrets_scope(), 0, &ok);
  REQUIRE(ok);
  CHECK_FALSE(leaks(out));
  const auto masked = json::parse(out);
  CHECK(masked["data"]["pw"] == kMaskedBase64);
  CHECK(masked["data"]["token"] == kMaskedBase64);
  CHECK(masked["stringData"]["plain"] == kMaskedText);
  CHECK(masked["metadata"]["name"] == "db");
  CHECK(masked["type"] == "Opaque");
  const auto applied = json::parse(masked["metadata"]["annotations"][kLastAppliedAnnotation].get<std::string>());
  CHECK(applied["data"]["pw"] == kMaskedBase64);
  CHECK(applied["metadata"]["name"] == "db");
  // The original order of keys is kept (kind first, as the API server writes it).
  CHECK(out.rfind(R"({"kind":"Secret","apiVersion":"v1",)", 0) == 0);
}

TEST_CASE("a list is masked element by element, the same whatever the pieces it arrives in") {
  json list = {{"kind", "SecretList"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "42"}}}, {"items", json::array()}};
  for (int i = 0; i < 30; ++i) list["items"].push_back(secret("s" + std::to_string(i)));
  const std::string body = list.dump() + "\n";
  const auto whole = run(body, secrets_scope(), 0);
  CHECK_FALSE(leaks(whole));
  const auto parsed = json::parse(whole);
  CHECK(parsed["items"].size() == 30);
  CHECK(parsed["metadata"]["resourceVersion"] == "42");
  CHECK(parsed["items"][29]["metadata"]["name"] == "s29");
  for (std::size_t piece : {1u, 7u, 100u, 4096u}) CHECK(run(body, secrets_scope(), piece) == whole);
}

TEST_CASE("each watch event is written as soon as it is complete") {
  const std::string e1 = json{{"type", "ADDED"}, {"object", secret("a")}}.dump() + "\n";
  const std::string e2 = json{{"type", "MODIFIED"}, {"object", secret("b")}}.dump() + "\n";
  JsonStreamMasker m(secrets_scope());
  std::string out;
  REQUIRE(m.feed(e1 + e2.substr(0, 40), out));
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(json::parse(out)["type"] == "ADDED");
  REQUIRE(m.feed(e2.substr(40), out));
  REQUIRE(m.finish(out));
  CHECK(std::count(out.begin(), out.end(), '\n') == 2);
  CHECK_FALSE(leaks(out));
}

TEST_CASE("Table rows that carry objects are masked") {
  json table = {{"kind", "Table"},
                {"apiVersion", "meta.k8s.io/v1"},
                {"columnDefinitions", json::array({{{"name", "Name"}}})},
                {"rows", json::array({{{"cells", {"db", "Opaque", 2}}, {"object", secret("db")}}})}};
  const auto out = run(table.dump(), secrets_scope(), 5);
  CHECK_FALSE(leaks(out));
  CHECK(json::parse(out)["rows"][0]["cells"][0] == "db");
}

TEST_CASE("a Secret inside a response about something else is masked by its kind") {
  json s = secret("x");
  s["kind"] = "Secret";
  json list = {{"kind", "List"}, {"items", json::array({s, {{"kind", "ConfigMap"}, {"data", {{"a", "visible"}}}}})}};
  const auto out = run(list.dump(), MaskScope{}, 3);
  CHECK_FALSE(leaks(out));
  CHECK(out.find("visible") != std::string::npos);
  // A top-level object whose kind comes late is not streamed, so its kind still decides.
  json late = {{"data", {{"pw", kValue}}}, {"items", json::array()}, {"kind", "Secret"}};
  CHECK_FALSE(leaks(run(late.dump(), MaskScope{}, 1)));
}

TEST_CASE("profile fields: ConfigMap keys by glob, env values of matching containers, JSON pointers") {
  auto p = profile_with("", "configmaps", "data.*password*");
  MaskScope cm;
  cm.profile = p.get();
  cm.resource = "configmaps";
  json c = {{"kind", "ConfigMap"}, {"data", {{"db_password", "pw1"}, {"host", "db.local"}}}};
  auto out = json::parse(run(c.dump(), cm, 0));
  CHECK(out["data"]["db_password"] == kMaskedText);
  CHECK(out["data"]["host"] == "db.local");

  auto pods = profile_with("", "pods", "spec.containers[name=*db*].env[*].value");
  MaskScope ps;
  ps.profile = pods.get();
  ps.resource = "pods";
  json pod = {{"metadata", {{"name", "p"}}},
              {"spec", {{"containers", json::array({{{"name", "web"}, {"env", json::array({{{"name", "A"}, {"value", "keep"}}})}},
                                                    {{"name", "mydb"}, {"env", json::array({{{"name", "B"}, {"value", "hide"}}})}}})}}}};
  json podlist = {{"kind", "PodList"}, {"items", json::array({pod, pod})}};
  out = json::parse(run(podlist.dump(), ps, 11));
  CHECK(out["items"][1]["spec"]["containers"][0]["env"][0]["value"] == "keep");
  CHECK(out["items"][1]["spec"]["containers"][1]["env"][0]["value"] == kMaskedText);

  auto ptr = profile_with("", "configmaps", "/data/a~1b");
  cm.profile = ptr.get();
  json c2 = {{"kind", "ConfigMap"}, {"data", {{"a/b", "x"}, {"c", "y"}}}};
  out = json::parse(run(c2.dump(), cm, 0));
  CHECK(out["data"]["a/b"] == kMaskedText);
  CHECK(out["data"]["c"] == "y");
}

TEST_CASE("field paths that do not parse are refused with a reason") {
  std::string error;
  CHECK(parse_field_path("spec.containers[name=*db*].env[*].value", error)->size() == 6);
  CHECK(parse_field_path("items[2].x", error)->size() == 3);
  for (std::string bad : {"", "a..b", "a.", "a[", "a[x]", ".a"}) {
    error.clear();
    CHECK_MESSAGE(!parse_field_path(bad, error), bad);
    CHECK(!error.empty());
  }
}

TEST_CASE("what is not JSON, ends early or nests too deep is refused") {
  bool ok = true;
  run("{\"kind\":\"Secret\",\"data\":{\"a\":", secrets_scope(), 0, &ok);
  CHECK_FALSE(ok);
  run("not json", secrets_scope(), 0, &ok);
  CHECK_FALSE(ok);
  run(std::string(300, '[') + std::string(300, ']'), secrets_scope(), 0, &ok);
  CHECK_FALSE(ok);
  CHECK(run("", secrets_scope(), 0, &ok).empty());
  CHECK(ok);
  // 64-bit integers keep every digit.
  CHECK(run(R"({"n":9223372036854775807,"u":18446744073709551615,"f":1.5})", secrets_scope(), 2) ==
        "{\"n\":9223372036854775807,\"u\":18446744073709551615,\"f\":1.5}\n");
}

TEST_CASE("regex detectors catch secrets split across chunks at every point") {
  const std::string key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtopsecretkeymaterial0123456789\n-----END RSA PRIVATE KEY-----\n";
  const std::string text = "log line one\n" + key + "AKIAIOSFODNN7EXAMPLE and password=swordfish; done\n" +
                           "jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ end\n";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    StreamRedactor r(default_profile());
    std::string out;
    r.feed(text.substr(0, split), out);
    r.feed(text.substr(split), out);
    r.flush(out, true);
    INFO("split at ", split, ": ", out);
    CHECK(out.find("topsecretkeymaterial") == std::string::npos);
    CHECK(out.find("IOSFODNN7EXAMPLE") == std::string::npos);
    CHECK(out.find("swordfish") == std::string::npos);
    CHECK(out.find("c2lnbmF0dXJlLXNpZ25hdHVyZQ") == std::string::npos);
    CHECK(out.find("-----BEGIN RSA PRIVATE KEY-----") != std::string::npos);  // the markers stay
    CHECK(out.find("log line one\n") == 0);
    CHECK(out.find(" done\n") != std::string::npos);
  }
  StreamRedactor plain(default_profile());
  std::string out;
  plain.feed("nothing to see here\n", out);
  CHECK(out == "nothing to see here\n");
  CHECK_FALSE(plain.holding());
}

TEST_CASE("an idle flush passes a short partial match and masks a long one") {
  StreamRedactor r(default_profile());
  std::string out;
  r.feed("$ pass", out);
  CHECK(out == "$ ");
  CHECK(r.holding());
  r.flush(out, false);
  CHECK(out == "$ pass");
  r.feed("-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASC", out);
  r.flush(out, false);
  CHECK(out.find("MIIEvg") == std::string::npos);
}

TEST_CASE("exec output frames are redacted per channel, other frames pass after them") {
  const std::string secret_out = "AWS key AKIAIOSFODNN7EXAMPLE\n";
  std::string wire = sluice::common::websocket_frame(0x2, std::string("\x01", 1) + secret_out.substr(0, 15)) +
                     sluice::common::websocket_frame(0x2, std::string("\x01", 1) + secret_out.substr(15)) +
                     sluice::common::websocket_frame(0x2, std::string("\x03", 1) + R"({"status":"Success"})");
  WebSocketRedactor r(default_profile());
  std::string out;
  for (std::size_t at = 0; at < wire.size(); at += 3) REQUIRE(r.feed(wire.substr(at, 3), out));
  // Decode what came out: binary frames of our own making, short enough for one length byte.
  std::string stdout_text, status;
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t len = static_cast<unsigned char>(out[at + 1]);
    const std::string payload = out.substr(at + 2, len);
    if (payload[0] == 1) stdout_text += payload.substr(1);
    if (payload[0] == 3) status = payload.substr(1);
    CHECK(stdout_text.find("IOSFODNN") == std::string::npos);
    if (payload[0] == 3) CHECK(stdout_text == "AWS key ***MASKED***\n");  // output first, then the status
    at += 2 + len;
  }
  CHECK(status == R"({"status":"Success"})");
}

TEST_CASE("requests that need masking ask for plain JSON") {
  CHECK(json_only_accept("application/vnd.kubernetes.protobuf,application/json") == "application/json");
  CHECK(json_only_accept("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json") ==
        "application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json");
  CHECK(json_only_accept("application/vnd.kubernetes.protobuf;stream=watch") == "application/json");
  CHECK(json_only_accept("*/*") == "application/json");
  CHECK(json_only_accept("") == "application/json");

  sluice::common::RequestInfo info;
  info.is_resource_request = true;
  info.resource = "secrets";
  auto plan = plan_masking(info, nullptr, false);
  REQUIRE(plan.kind == MaskingPlan::Kind::json);
  sluice::HeaderList h = {{"Accept", "application/vnd.kubernetes.protobuf, */*"}, {"Accept-Encoding", "gzip"},
                                   {"User-Agent", "kubectl"}};
  prepare_request(plan, h);
  CHECK(h == sluice::HeaderList{{"User-Agent", "kubectl"}, {"Accept", "application/json"}});
  CHECK(plan_masking(info, nullptr, true).kind == MaskingPlan::Kind::none);  // an approved reveal

  std::string refusal;
  CHECK(!ResponseFilter::start(plan, 200, "application/vnd.kubernetes.protobuf", "", "", refusal));
  CHECK(refusal.find("cannot check for secrets") != std::string::npos);
  refusal.clear();
  CHECK(!ResponseFilter::start(plan, 200, "application/json", "gzip", "", refusal));
  CHECK(refusal.find("gzip") != std::string::npos);
  refusal.clear();
  CHECK(ResponseFilter::start(plan, 200, "application/json;charset=utf-8", "", "", refusal));
  CHECK(refusal.empty());

  info.resource = "pods";
  info.subresource = "exec";
  plan = plan_masking(info, nullptr, false);
  CHECK(plan.kind == MaskingPlan::Kind::exec);
  CHECK(refuse_request(plan, {{"Upgrade", "SPDY/3.1"}}));
  CHECK(!refuse_request(plan, {{"Upgrade", "websocket"}}));
  h = {{"Sec-WebSocket-Protocol", "v5.channel.k8s.io, base64.channel.k8s.io, v4.channel.k8s.io"}};
  prepare_request(plan, h);
  CHECK(h[0].second == "v5.channel.k8s.io, v4.channel.k8s.io");
  info.subresource.clear();
  CHECK(plan_masking(info, nullptr, false).kind == MaskingPlan::Kind::none);  // pods: nothing to mask by default
}

TEST_CASE("a TokenRequest's answer has its token masked unless the request was approved with reveal") {
  sluice::common::RequestInfo info;
  info.is_resource_request = true;
  info.verb = "create";
  info.resource = "serviceaccounts";
  info.subresource = "token";
  auto plan = plan_masking(info, nullptr, false);
  REQUIRE(plan.kind == MaskingPlan::Kind::json);
  CHECK(plan_masking(info, nullptr, true).kind == MaskingPlan::Kind::none);
  const std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl";
  const json answer = {{"kind", "TokenRequest"},
                       {"apiVersion", "authentication.k8s.io/v1"},
                       {"metadata", {{"name", "builder"}, {"namespace", "shop"}}},
                       {"spec", {{"audiences", {"https://kubernetes.default.svc"}}, {"expirationSeconds", 3600}}},
                       {"status", {{"token", token}, {"expirationTimestamp", "2026-12-06T13:00:00Z"}}}};
  for (std::size_t piece : {0, 1, 7}) {
    bool ok = false;
    const auto out = run(answer.dump(), plan.scope, piece, &ok);
    REQUIRE(ok);
    CHECK(out.find(token) == std::string::npos);
    const auto masked = json::parse(out);
    CHECK(masked["status"]["token"] == kMaskedText);
    CHECK(masked["status"]["expirationTimestamp"] == "2026-12-06T13:00:00Z");
    CHECK(masked["spec"] == answer["spec"]);
  }
  // Another kind in the same answer (a Status refusing the request) passes unchanged.
  const json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"code", 403}};
  CHECK(json::parse(run(status.dump(), plan.scope, 0)) == status);
}
