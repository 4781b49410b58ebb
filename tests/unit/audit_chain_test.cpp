// The audit hash chain's links: each row's hash covers the hash before it, and a failed batch is
// linked again from the last committed head.
#include <doctest/doctest.h>

#include "common/token_compare.h"
#include "gateway/audit/audit_chain.h"

using namespace sluice::gateway::audit;
using nlohmann::json;

TEST_CASE("each link hashes the previous link's hash and the row's content") {
  AuditChain chain;
  json a = {{"id", "a"}, {"verb", "get"}}, b = {{"id", "b"}, {"verb", "delete"}};
  chain.link(a);
  chain.link(b);
  CHECK(a["chain_seq"] == 1);
  CHECK(a["prev_hash"] == "");
  CHECK(a["row_hash"] == sluice::common::sha256_hex("\n{\"id\":\"a\",\"verb\":\"get\"}"));
  CHECK(b["chain_seq"] == 2);
  CHECK(b["prev_hash"] == a["row_hash"]);
  CHECK(b["row_hash"] == chain_hash(a["row_hash"], json{{"id", "b"}, {"verb", "delete"}}));
  CHECK(a["chain_id"] == b["chain_id"]);
  // The same content after another link hashes differently.
  CHECK(chain_hash("", json{{"id", "b"}}) != chain_hash("x", json{{"id", "b"}}));
}

TEST_CASE("a batch that was not written is linked again from the committed head") {
  AuditChain chain;
  json a = {{"id", "a"}};
  chain.link(a);
  chain.commit();
  json lost = {{"id", "b"}};
  chain.link(lost);
  chain.rollback();
  json again = {{"id", "b"}};
  chain.link(again);
  CHECK(again["chain_seq"] == 2);
  CHECK(again["prev_hash"] == a["row_hash"]);
  CHECK(again["row_hash"] == lost["row_hash"]);
}
