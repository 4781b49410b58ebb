// The audit row text is hashed by the writer and rebuilt with nlohmann by verify_audit_chain():
// both must be the same bytes for every input, including control characters, invalid UTF-8 and
// odd numbers. The reference here is the JSON map the writer used to build.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "common/token_compare.h"
#include "gateway/audit/audit_chain.h"
#include "gateway/audit/audit_row.h"

using namespace sluice::gateway::audit;
using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json reference_intent(const AuditIntent& a) {
  const auto& r = a.request;
  json row = {{"received_at", to_pg_timestamp(a.received_at)}, {"id", a.id}, {"cluster", a.cluster},
              {"username", a.who.user}, {"uid", a.who.uid}, {"groups", a.who.groups},
              {"auth_method", a.who.method}, {"source_ip", a.source_ip}, {"user_agent", a.user_agent},
              {"kubectl_command", a.kubectl_command}, {"kubectl_session", a.kubectl_session},
              {"verb", r.verb}, {"api_group", r.api_group}, {"api_version", r.api_version},
              {"resource", r.resource}, {"subresource", r.subresource}, {"namespace", r.namespace_name},
              {"name", r.name}, {"request_uri", a.request_uri}, {"dry_run", r.dry_run},
              {"decision", a.decision}, {"decision_reason", a.decision_reason},
              {"approval_id", a.approval_id.empty() ? json(nullptr) : json(a.approval_id)}};
  if (!a.parent_id.empty()) row["parent_id"] = a.parent_id;
  return row;
}

json reference_outcome(const AuditOutcome& o) {
  return {{"received_at", to_pg_timestamp(o.received_at)}, {"id", o.id}, {"response_code", o.response_code},
          {"duration_ms", o.duration_ms}, {"bytes_in", o.bytes_in}, {"bytes_out", o.bytes_out},
          {"finished_at", to_pg_timestamp(o.finished_at)}};
}

AuditIntent sample_intent() {
  AuditIntent a;
  a.id = "0f9c2a4e-5d1b-4c7e-9a6f-3b2d1e0c9f8a";
  a.received_at = Clock::now();
  a.cluster = "prod";
  a.who = {"alice", "u-1", {"dev", "system:authenticated"}, {}, "oidc"};
  a.source_ip = "10.0.0.7";
  a.user_agent = "kubectl/v1.32.0 (linux/amd64) kubernetes/abcdef";
  a.request.verb = "get";
  a.request.api_version = "v1";
  a.request.resource = "pods";
  a.request_uri = "/api/v1/pods";
  return a;
}

}  // namespace

TEST_CASE("an intent row is nlohmann's dump of the same object, byte for byte") {
  AuditIntent a = sample_intent();
  CHECK(intent_row(a) == dump(reference_intent(a)));
  a.approval_id = "7d3c1c4e-0000-4000-8000-000000000002";
  a.parent_id = "7d3c1c4e-0000-4000-8000-000000000003";
  a.request.dry_run = true;
  a.who.groups.clear();
  CHECK(intent_row(a) == dump(reference_intent(a)));
  // What a client controls: headers, paths, names.
  for (const std::string& s : {std::string("\"quoted\" \\ back/slash"), std::string("tab\there\nnl\r\b\f"),
                              std::string("ctl \x01\x1f\x7f end"), std::string("nul \0 inside", 12),
                              std::string("ünïcødé ✓ 𝄞"), std::string("bad \x80 byte"), std::string("cut \xe2\x82"),
                              std::string("overlong \xc0\xaf"), std::string("surrogate \xed\xa0\x80"),
                              std::string("\xff\xfe"), std::string()}) {
    CAPTURE(s);
    a.user_agent = s;
    a.kubectl_command = s;
    a.who.groups = {s, "x"};
    CHECK(intent_row(a) == dump(reference_intent(a)));
  }
}

TEST_CASE("random bytes in every text field give nlohmann's bytes") {
  std::mt19937 rng(20261207);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 12), ascii_only(0, 1);
  auto text = [&] {
    std::string s(static_cast<std::size_t>(len(rng)), '\0');
    const bool ascii = ascii_only(rng);
    for (auto& c : s) c = static_cast<char>(ascii ? byte(rng) % 128 : byte(rng));
    return s;
  };
  for (int i = 0; i < 3000; ++i) {
    AuditIntent a = sample_intent();
    a.cluster = text();
    a.who.user = text();
    a.who.groups = {text(), text()};
    a.source_ip = text();
    a.user_agent = text();
    a.request.name = text();
    a.request_uri = text();
    a.decision_reason = text();
    const std::string row = intent_row(a), expected = dump(reference_intent(a));
    REQUIRE(row == expected);
  }
}

TEST_CASE("an outcome row is nlohmann's dump, numbers included") {
  AuditOutcome o;
  o.id = "0f9c2a4e-5d1b-4c7e-9a6f-3b2d1e0c9f8a";
  o.received_at = Clock::now();
  o.finished_at = o.received_at + std::chrono::milliseconds(3);
  for (const double d : {0.0, 1.0, 1.5, 0.1, 1e-7, 123456.789, 3.0e21, -0.0, std::nan(""),
                         std::numeric_limits<double>::infinity(), std::numeric_limits<double>::denorm_min()}) {
    CAPTURE(d);
    o.duration_ms = d;
    o.response_code = 503;
    o.bytes_in = std::numeric_limits<std::uint64_t>::max();
    o.bytes_out = 0;
    CHECK(outcome_row(o) == dump(reference_outcome(o)));
  }
}

TEST_CASE("a row linked as text carries the chain fields, and its hash is the content's") {
  AuditChain chain;
  const AuditIntent a = sample_intent();
  std::string first = intent_row(a), second = intent_row(a);
  chain.link(first);
  chain.link(second);
  const json one = json::parse(first), two = json::parse(second);
  CHECK(one["chain_id"] == chain.id());
  CHECK(one["chain_seq"] == 1);
  CHECK(one["prev_hash"] == "");
  CHECK(one["row_hash"] == sluice::common::sha256_hex("\n" + intent_row(a)));
  CHECK(two["chain_seq"] == 2);
  CHECK(two["prev_hash"] == one["row_hash"]);
  CHECK(two["row_hash"] == chain_hash(one["row_hash"].get<std::string>(), reference_intent(a)));
  CHECK(chain.head().seq == 2);
  CHECK(chain.head().hash == two["row_hash"]);
}
