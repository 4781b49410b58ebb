#include <doctest/doctest.h>

#include "gateway/store/migrator.h"
#include "test_database.h"

using namespace sluice::gateway::store;

TEST_CASE("migrate creates the clusters table and records the schema version, once") {
  const auto url = sluice::testing::fresh_database();
  const auto& all = embedded_migrations();
  REQUIRE_FALSE(all.empty());
  auto first = migrate(url, all);
  CHECK(first.applied.size() == all.size());
  CHECK(first.schema_version == all.back().version);
  auto second = migrate(url, all);
  CHECK(second.applied.empty());
  CHECK(second.schema_version == first.schema_version);

  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec("INSERT INTO clusters (name, agent_token_sha256) VALUES ('prod-eu', repeat('a', 64))");
  auto row = tx.exec1("SELECT name, created_at IS NOT NULL, last_seen IS NULL, agent_version IS NULL FROM clusters");
  CHECK(row[0].as<std::string>() == "prod-eu");
  CHECK(row[1].as<bool>());
  CHECK(row[2].as<bool>());
  CHECK(row[3].as<bool>());
  CHECK(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>() == static_cast<int>(all.size()));
}

TEST_CASE("the clusters table refuses names that are not DNS labels and hashes of the wrong size") {
  const auto url = sluice::testing::fresh_database();
  migrate(url, embedded_migrations());
  pqxx::connection c(url);
  {
    pqxx::work tx(c);
    CHECK_THROWS(tx.exec("INSERT INTO clusters (name, agent_token_sha256) VALUES ('Bad_Name', repeat('a', 64))"));
  }
  {
    pqxx::work tx(c);
    CHECK_THROWS(tx.exec("INSERT INTO clusters (name, agent_token_sha256) VALUES ('ok', 'short')"));
  }
}

TEST_CASE("an applied migration that was edited afterwards is refused, and nothing new is applied") {
  const auto url = sluice::testing::fresh_database();
  std::vector<Migration> v1 = {{1, "one", "CREATE TABLE one (x int);"}};
  migrate(url, v1);
  std::vector<Migration> edited = {{1, "one", "CREATE TABLE one (x bigint);"}, {2, "two", "CREATE TABLE two (y int);"}};
  CHECK_THROWS_WITH_AS(migrate(url, edited), doctest::Contains("was changed after it was applied"), std::runtime_error);
  pqxx::connection c(url);
  pqxx::work tx(c);
  CHECK(tx.exec1("SELECT to_regclass('two') IS NULL")[0].as<bool>());
}

TEST_CASE("a failing migration rolls back everything of that run") {
  const auto url = sluice::testing::fresh_database();
  std::vector<Migration> ms = {{1, "good", "CREATE TABLE good (x int);"}, {2, "bad", "CREATE TABLE oops (x nosuchtype);"}};
  CHECK_THROWS_WITH_AS(migrate(url, ms), doctest::Contains("migration 2_bad failed"), std::runtime_error);
  pqxx::connection c(url);
  pqxx::work tx(c);
  CHECK(tx.exec1("SELECT to_regclass('good') IS NULL")[0].as<bool>());
}

TEST_CASE("an unreachable database is reported as such") {
  CHECK_THROWS_WITH_AS(migrate("host=/nonexistent-dir port=1 dbname=x connect_timeout=2", embedded_migrations()),
                       doctest::Contains("cannot connect to the database"), std::runtime_error);
}

TEST_CASE("migration 0003 moves recorded outcomes to audit_outcomes and audit_log shows them as before") {
  const auto url = sluice::testing::fresh_database();
  const auto& all = embedded_migrations();
  std::vector<Migration> up_to_2;
  for (const auto& m : all)
    if (m.version <= 2) up_to_2.push_back(m);
  migrate(url, up_to_2);
  pqxx::connection c(url);
  {
    pqxx::work tx(c);
    tx.exec("INSERT INTO audit_events (received_at, id, cluster, username, auth_method, source_ip, verb, request_uri, "
            "decision, response_code, duration_ms, bytes_in, bytes_out, finished_at) VALUES "
            "('2026-11-25 01:00:00+00', '00000000-0000-4000-8000-000000000001', 'c', 'u', 'm', '1.2.3.4', 'get', '/x', "
            "'allowed', 200, 1.5, 0, 10, '2026-11-25 01:00:01+00'), "
            "('2026-11-25 01:00:00+00', '00000000-0000-4000-8000-000000000002', 'c', 'u', 'm', '1.2.3.4', 'get', '/y', "
            "'allowed', NULL, NULL, NULL, NULL, NULL)");
    tx.commit();
  }
  migrate(url, all);
  pqxx::work tx(c);
  CHECK(tx.exec1("SELECT count(*) FROM audit_outcomes")[0].as<int>() == 1);
  auto r = tx.exec1("SELECT response_code, bytes_out FROM audit_log WHERE request_uri = '/x'");
  CHECK(r[0].as<int>() == 200);
  CHECK(r[1].as<int>() == 10);
  CHECK(tx.exec1("SELECT response_code IS NULL FROM audit_log WHERE request_uri = '/y'")[0].as<bool>());
}
