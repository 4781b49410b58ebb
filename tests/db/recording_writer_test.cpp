// The recording writer against a real PostgreSQL: what it takes is written, and the queue's byte
// budget comes back as items leave (a budget that leaked would refuse every recording in time).
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "gateway/recording/recording_writer.h"
#include "gateway/store/migrator.h"
#include "test_database.h"

using namespace sluice::gateway;

TEST_CASE("recording: a queue that drains takes recordings for ever, and writes them whole") {
  const std::string url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  recording::RecordingWriterOptions o;
  o.database_url = url;
  o.max_queue_bytes = 32 * 1024;  // about twenty exchanges with a 1 KB URI
  recording::RecordingWriter writer(o);
  const std::string uri = "/api/v1/namespaces/x/configmaps?labelSelector=" + std::string(1000, 'a');
  int taken = 0;
  for (int i = 0; i < 200; ++i) {
    recording::ExchangeStart s;
    s.id = audit::new_audit_id();
    s.session_key = "conn:test:c:1";
    s.cluster = "c";
    s.username = "bot";
    s.started_at = audit::Clock::now();
    s.kind = "http";
    s.method = "GET";
    s.request_uri = uri;
    s.request_headers = nlohmann::json::array();
    const std::string id = s.id;
    const int before = taken;
    for (int attempt = 0; attempt < 100; ++attempt) {  // a full queue empties within a poll or two
      if (writer.push(s)) {
        ++taken;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (taken == before) break;  // refused for 2 s: the budget did not come back
    recording::ExchangeEnd e;
    e.id = id;
    e.finished_at = audit::Clock::now();
    e.response_code = 200;
    writer.push(std::move(e));
  }
  CHECK(taken == 200);
  pqxx::connection c(url);
  for (int i = 0; i < 100; ++i) {
    if (pqxx::read_transaction(c).exec1("SELECT count(*) FROM recording_exchanges WHERE finished_at IS NOT NULL")[0].as<int>() == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(pqxx::read_transaction(c).exec1("SELECT count(*) FROM recording_exchanges WHERE finished_at IS NOT NULL")[0].as<int>() == 200);
}
