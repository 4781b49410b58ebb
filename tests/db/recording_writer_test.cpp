// The recording writer against a real PostgreSQL: what it takes is written, and the queue's byte
// budget comes back as items leave (a budget that leaked would refuse every recording in time).
#include <doctest/doctest.h>

#include <zlib.h>

#include <chrono>
#include <thread>

#include "gateway/recording/recording_writer.h"
#include "gateway/store/chunk_codec.h"
#include "gateway/store/migrator.h"
#include "gateway/store/recording_store.h"
#include "test_database.h"

using namespace sluice::gateway;

namespace {
// The bot's GET on cluster c, as the recording stage starts one.
recording::ExchangeStart http_exchange(const std::string& session_key, const std::string& uri) {
  recording::ExchangeStart s;
  s.id = audit::new_audit_id();
  s.session_key = session_key;
  s.cluster = "c";
  s.username = "bot";
  s.started_at = audit::Clock::now();
  s.kind = "http";
  s.method = "GET";
  s.request_uri = uri;
  s.request_headers = nlohmann::json::array();
  return s;
}
}  // namespace

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
    auto s = http_exchange("conn:test:c:1", uri);
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

TEST_CASE("recording: chunks this release packs with zstd and chunks older releases packed with zlib read back") {
  const std::string url = sluice::testing::fresh_database();
  store::migrate(url, store::embedded_migrations());
  recording::RecordingWriterOptions o;
  o.database_url = url;
  recording::RecordingWriter writer(o);
  auto s = http_exchange("conn:codec:c:1", "/api/v1/pods");
  const std::string id = s.id;
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "{\"kind\":\"Pod\",\"name\":\"pod-" + std::to_string(i) + "\"}\n";
  REQUIRE(writer.push(s));
  recording::ExchangeChunk first{id, "response", 0, body.substr(0, 40000)}, second{id, "response", 1, body.substr(40000)};
  REQUIRE(writer.push(std::move(first)));
  REQUIRE(writer.push(std::move(second)));
  recording::ExchangeEnd e;
  e.id = id;
  e.finished_at = audit::Clock::now();
  e.response_code = 200;
  writer.push(std::move(e));
  pqxx::connection c(url);
  for (int i = 0; i < 100; ++i) {
    if (pqxx::read_transaction(c).exec1("SELECT count(*) FROM recording_exchanges WHERE finished_at IS NOT NULL")[0].as<int>() == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  {
    pqxx::read_transaction tx(c);
    CHECK(tx.exec1("SELECT count(*) FROM recording_chunks WHERE codec = 'zstd'")[0].as<int>() == 2);
    // Packed: the 90 KB of repetitive JSON takes far less than its size.
    CHECK(tx.exec1("SELECT sum(octet_length(data)) FROM recording_chunks")[0].as<long long>() < 20000);
  }
  // A chunk as releases before 0014 wrote it: zlib's compress(), no codec named.
  const std::string old_body = "an older release's response body, packed with zlib";
  std::string packed(compressBound(old_body.size()), '\0');
  uLongf packed_size = packed.size();
  REQUIRE(compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                    reinterpret_cast<const Bytef*>(old_body.data()), old_body.size(), Z_BEST_SPEED) == Z_OK);
  packed.resize(packed_size);
  const std::string old_id = audit::new_audit_id();
  {
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO recording_exchanges (id, session_id, kind, started_at, finished_at, method, request_uri, "
                   "request_headers) SELECT $1::uuid, session_id, 'http', started_at, finished_at, 'GET', '/old', "
                   "request_headers FROM recording_exchanges "
                   "WHERE id = $2::uuid", old_id, id);
    tx.exec_params("INSERT INTO recording_chunks (exchange_id, stream, seq, raw_bytes, data) VALUES ($1::uuid, 'response', 0, $2, $3)",
                   old_id, static_cast<int>(old_body.size()), pqxx::binarystring(packed.data(), packed.size()));
    tx.commit();
  }
  const auto session = pqxx::read_transaction(c).exec1("SELECT session_id FROM recording_exchanges WHERE id = '" + id + "'")[0];
  const auto detail = store::session_detail(c, session.c_str());
  REQUIRE(detail["exchanges"].size() == 2);
  for (const auto& x : detail["exchanges"]) {
    if (x["id"] == id) CHECK(x["response"]["body"]["text"] == body);
    else CHECK(x["response"]["body"]["text"] == old_body);
  }
  CHECK_THROWS_WITH(store::unpack_chunk("lz4", "x", 1), doctest::Contains("unknown codec"));
  CHECK_THROWS(store::unpack_chunk("zstd", "not zstd", 8));
}
