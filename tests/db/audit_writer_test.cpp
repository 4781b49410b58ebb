// The intent audit writer against a real PostgreSQL: rows committed before their intent is
// confirmed, the hash chain whole after a refused batch, a killed connection and rows removed
// under the writer, and every intent either confirmed and stored or refused (fail closed).
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "gateway/audit/audit_chain.h"
#include "gateway/audit/audit_row.h"
#include "gateway/audit/audit_writer.h"
#include "gateway/store/migrator.h"
#include "tests/db/test_database.h"

using namespace sluice::gateway;
using namespace std::chrono_literals;

namespace {

std::string migrated_database() {
  const std::string url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  return url;
}

audit::AuditIntent intent(const std::string& user_agent = "kubectl/v1.32.0") {
  audit::AuditIntent a;
  a.id = audit::new_audit_id();
  a.received_at = audit::Clock::now();
  a.cluster = "prod";
  a.who = {"alice", "u-1", {"dev", "system:authenticated"}, {}, "oidc"};
  a.source_ip = "10.0.0.7";
  a.user_agent = user_agent;
  a.request.verb = "get";
  a.request.api_version = "v1";
  a.request.resource = "pods";
  a.request_uri = "/api/v1/pods";
  return a;
}

audit::AuditOutcome outcome_of(const audit::AuditIntent& a, double ms) {
  audit::AuditOutcome o;
  o.id = a.id;
  o.received_at = a.received_at;
  o.response_code = 200;
  o.duration_ms = ms;
  o.bytes_out = 321;
  o.finished_at = a.received_at + 2ms;
  return o;
}

// Records an intent and waits for the writer's answer.
bool commit(audit::AuditWriter& w, audit::AuditIntent a) {
  std::promise<bool> p;
  auto f = p.get_future();
  w.record_intent(std::move(a), [&p](bool ok) { p.set_value(ok); });
  return f.get();
}

long long count(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<long long>();
}

}  // namespace

TEST_CASE("audit writer: an intent is confirmed once its row is stored, and the chain verifies") {
  const std::string url = migrated_database();
  {
    audit::AuditWriter w({.database_url = url});
    // What a client controls reaches the row as text the chain can rebuild.
    for (const std::string& ua : {std::string("plain"), std::string("quote \" back \\ tab \t nl \n ctl \x01"),
                                 std::string("ünïcødé ✓"), std::string("bad \x80\xff bytes")}) {
      auto a = intent(ua);
      const std::string id = a.id;
      REQUIRE(commit(w, std::move(a)));
      CHECK(count(url, "SELECT count(*) FROM audit_events WHERE id = '" + id + "'") == 1);
    }
    auto refused = intent();
    refused.decision = "denied";
    refused.outcome = outcome_of(refused, 0.25);
    refused.outcome->response_code = 403;
    REQUIRE(commit(w, refused));
    for (int i = 0; i < 20; ++i) w.record_outcome(outcome_of(intent(), 1.0 / 3));  // outcomes of no intent: stored all the same
    // Whole, tiny and huge durations: PostgreSQL prints 3 where the writer hashed 3.0.
    for (double ms : {3.0, 1e-7, 12345678.0}) w.record_outcome(outcome_of(intent(), ms));
  }  // the destructor writes what is queued
  CHECK(count(url, "SELECT count(*) FROM audit_events") == 5);
  CHECK(count(url, "SELECT count(*) FROM audit_outcomes") == 24);
  CHECK(count(url, "SELECT count(*) FROM audit_events WHERE user_agent = 'bad \uFFFD\uFFFD bytes'") == 1);
  const auto report = audit::verify_audit_chain(url, "");
  CHECK_MESSAGE(!report.broken, report.broken.value_or(""));
  CHECK(report.rows == 29);
  CHECK(report.chains == 1);
}

TEST_CASE("audit writer: many clients at once, every confirmed intent stored, the chain whole") {
  const std::string url = migrated_database();
  std::atomic<int> confirmed{0};
  {
    audit::AuditWriter w({.database_url = url, .max_batch = 16});  // many batches, two in flight
    std::vector<std::thread> clients;
    for (int c = 0; c < 16; ++c)
      clients.emplace_back([&] {
        for (int i = 0; i < 100; ++i) {
          auto a = intent();
          auto o = outcome_of(a, i);
          if (commit(w, std::move(a))) ++confirmed;
          w.record_outcome(o);
        }
      });
    for (auto& t : clients) t.join();
  }
  CHECK(confirmed == 1600);
  CHECK(count(url, "SELECT count(*) FROM audit_events") == 1600);
  CHECK(count(url, "SELECT count(*) FROM audit_outcomes") == 1600);
  const auto report = audit::verify_audit_chain(url, "");
  CHECK_MESSAGE(!report.broken, report.broken.value_or(""));
  CHECK(report.rows == 3200);
}

TEST_CASE("audit writer: a batch the database refuses is refused to its requests, and the chain stays whole") {
  const std::string url = migrated_database();
  audit::AuditWriter w({.database_url = url, .commit_timeout = 600ms});
  REQUIRE(commit(w, intent()));
  auto bad = intent();
  bad.decision = "maybe";  // the table's CHECK refuses it
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(commit(w, std::move(bad)));
  CHECK(std::chrono::steady_clock::now() - t0 >= 500ms);  // retried until its deadline, never confirmed
  // The writer goes on: what comes next is stored, linked after the last stored row.
  for (int i = 0; i < 5; ++i) REQUIRE(commit(w, intent()));
  CHECK(count(url, "SELECT count(*) FROM audit_events") == 6);
  const auto report = audit::verify_audit_chain(url, "");
  CHECK_MESSAGE(!report.broken, report.broken.value_or(""));
  CHECK(report.rows == 6);
}

TEST_CASE("audit writer: a killed connection loses nothing confirmed and leaves no hole in the chain") {
  const std::string url = migrated_database();
  std::mutex mu;
  std::map<std::string, bool> answers;
  {
    audit::AuditWriter w({.database_url = url, .commit_timeout = 3000ms, .max_batch = 8});
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; ++c)
      clients.emplace_back([&] {
        while (!stop) {
          auto a = intent();
          const std::string id = a.id;
          const bool ok = commit(w, std::move(a));
          std::lock_guard lock(mu);
          answers[id] = ok;
        }
      });
    pqxx::connection admin(url);
    for (int kill = 0; kill < 3; ++kill) {
      std::this_thread::sleep_for(150ms);
      pqxx::nontransaction tx(admin);
      // The writer's backend: every other client of this test database.
      tx.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
              "AND pid <> pg_backend_pid()");
    }
    std::this_thread::sleep_for(300ms);
    stop = true;
    for (auto& t : clients) t.join();
  }
  std::size_t confirmed = 0;
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  for (const auto& [id, ok] : answers) {
    if (!ok) continue;
    ++confirmed;
    REQUIRE_MESSAGE(tx.exec1("SELECT count(*) FROM audit_events WHERE id = '" + id + "'")[0].as<int>() == 1,
                    "intent " << id << " was confirmed but is not stored");
  }
  CHECK(confirmed > 0);
  const auto report = audit::verify_audit_chain(url, "");
  CHECK_MESSAGE(!report.broken, report.broken.value_or(""));
}

TEST_CASE("audit writer: rows removed under it: it goes on from the chain's last stored link") {
  const std::string url = migrated_database();
  audit::AuditWriter w({.database_url = url});
  for (int i = 0; i < 3; ++i) REQUIRE(commit(w, intent()));
  {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    tx.exec("DELETE FROM audit_events WHERE chain_seq = (SELECT max(chain_seq) FROM audit_events)");
  }
  for (int i = 0; i < 3; ++i) REQUIRE(commit(w, intent()));
  CHECK(count(url, "SELECT count(*) FROM audit_events") == 5);
  const auto report = audit::verify_audit_chain(url, "");
  CHECK_MESSAGE(!report.broken, report.broken.value_or(""));
  CHECK(report.rows == 5);
}

TEST_CASE("audit writer: the batch statement writes a batch once, and only behind its chain's previous link") {
  const std::string url = migrated_database();
  pqxx::connection c(url);
  c.prepare("batch", audit::kWriteBatchSql);
  audit::AuditChain chain;
  // Params of one batch of two intents linked on `chain`.
  auto batch = [&chain] {
    const auto before = chain.head().seq;
    std::string rows = "[";
    for (int i = 0; i < 2; ++i) {
      std::string row = audit::intent_row(intent());
      chain.link(row);
      rows += (i ? "," : "") + row;
    }
    return std::pair{rows + "]", before};
  };
  auto write = [&](const std::pair<std::string, std::int64_t>& b) {
    pqxx::work tx(c);
    const bool landed = tx.exec_prepared1("batch", b.first, "[]", chain.id(), b.second)[0].as<bool>();
    tx.commit();
    return landed;
  };
  const auto first = batch();
  CHECK(write(first));
  // Sent again (its answer was lost with the connection): stored already, nothing written twice.
  CHECK(write(first));
  CHECK(count(url, "SELECT count(*) FROM audit_events") == 2);
  const auto second = batch();
  const auto third = batch();
  // Behind a batch that is not stored: nothing of it lands.
  CHECK_FALSE(write(third));
  CHECK(count(url, "SELECT count(*) FROM audit_events") == 2);
  CHECK(write(second));
  CHECK(write(third));
  CHECK(count(url, "SELECT count(*) FROM audit_events") == 6);
  const auto report = audit::verify_audit_chain(url, "");
  CHECK_MESSAGE(!report.broken, report.broken.value_or(""));
  CHECK(report.rows == 6);
}
