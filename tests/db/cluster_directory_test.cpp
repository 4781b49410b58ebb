// The cluster directory against a real PostgreSQL, through the Database pool: it learns the
// registered names at start, finds a cluster added a moment ago on a fresh lookup, and reports a
// database it cannot reach (what /readyz says).
#include <doctest/doctest.h>

#include <future>

#include "gateway/server/cluster_directory.h"
#include "gateway/store/cluster_store.h"
#include "gateway/store/migrator.h"
#include "test_database.h"

using namespace sluice::gateway;

namespace {

bool lookup(ClusterDirectory& directory, const std::string& name) {
  std::promise<bool> answer;
  directory.lookup_fresh(name, [&](bool known) { answer.set_value(known); });
  auto f = answer.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  return f.get();
}

}  // namespace

TEST_CASE("cluster directory: names come from the clusters table - a fresh lookup sees one just added") {
  const auto url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  store::ClusterStore(url).add("prod-eu", false);
  store::Database db(url, 1);
  ClusterDirectory directory(db);
  directory.start();
  CHECK(lookup(directory, "prod-eu"));  // answered after a read that began after the call
  CHECK(directory.known("prod-eu"));
  CHECK(directory.database_ok());
  CHECK_FALSE(directory.known("staging"));

  store::ClusterStore(url).add("staging", false);
  CHECK_FALSE(directory.known("staging"));  // the cache is 2 s old at most, and nobody asked yet
  CHECK(lookup(directory, "staging"));
  CHECK(directory.known("staging"));
  CHECK_FALSE(lookup(directory, "nowhere"));
}

TEST_CASE("cluster directory: an unreachable database knows no cluster and says so") {
  store::Database db("host=127.0.0.1 port=1 dbname=none user=nobody connect_timeout=2", 1);
  ClusterDirectory directory(db);
  directory.start();
  CHECK_FALSE(lookup(directory, "prod-eu"));
  CHECK_FALSE(directory.database_ok());
}

TEST_CASE("cluster directory: a lookup after it stopped is answered, not lost") {
  store::Database db("host=127.0.0.1 port=1 dbname=none user=nobody connect_timeout=2", 1);
  std::promise<bool> answer;
  {
    ClusterDirectory directory(db);  // never started
    directory.lookup_fresh("prod-eu", [&](bool known) { answer.set_value(known); });
  }
  auto f = answer.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK_FALSE(f.get());
}
