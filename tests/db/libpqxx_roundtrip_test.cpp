#include <doctest/doctest.h>

#include "test_database.h"

TEST_CASE("libpqxx talks to the throwaway PostgreSQL: a parameterised round trip") {
  pqxx::connection c(sluice::testing::fresh_database());
  pqxx::work tx(c);
  tx.exec("CREATE TABLE t (id bigserial PRIMARY KEY, name text NOT NULL, at timestamptz NOT NULL DEFAULT now())");
  auto inserted = tx.exec_params1("INSERT INTO t (name) VALUES ($1) RETURNING id", std::string("café ✓"));
  auto row = tx.exec_params1("SELECT name, current_setting('server_version_num')::int FROM t WHERE id = $1",
                             inserted[0].as<long long>());
  CHECK(row[0].as<std::string>() == "café ✓");
  CHECK(row[1].as<int>() >= 150000);
  tx.commit();
}
