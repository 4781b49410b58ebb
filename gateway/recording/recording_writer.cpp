#include "gateway/recording/recording_writer.h"

#include <openssl/evp.h>
#include <pqxx/pqxx>

#include "common/base64.h"
#include "gateway/store/chunk_codec.h"
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <unordered_map>

namespace sluice::gateway::recording {
namespace {

constexpr std::size_t kMaxBatchItems = 4000;
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr std::size_t kWakeBytes = 4u << 20;

// Sessions are upserted by key (a kubectl invocation's requests share one), exchanges inserted.
constexpr const char* kStartsSql = R"sql(
WITH r AS (
  SELECT * FROM json_to_recordset($1::json) AS r(id uuid, session_key text, cluster text, username text,
         kubectl_command text, started_at timestamptz, kind text, method text, request_uri text, request_headers json,
         finished_at timestamptz, response_code integer, response_headers json, request_bytes bigint,
         request_sha256 text, request_truncated boolean, response_bytes bigint, response_sha256 text,
         response_truncated boolean, terminal json, exit_status json)
), s AS (
  INSERT INTO recording_sessions (session_key, cluster, username, kubectl_command, started_at, last_at)
  SELECT DISTINCT ON (session_key) session_key, cluster, username, kubectl_command, started_at, started_at
  FROM r ORDER BY session_key, started_at DESC
  ON CONFLICT (session_key) DO UPDATE SET last_at = greatest(recording_sessions.last_at, EXCLUDED.last_at)
  RETURNING id, session_key
)
INSERT INTO recording_exchanges (id, session_id, kind, started_at, method, request_uri, request_headers, finished_at,
       response_code, response_headers, request_bytes, request_sha256, request_truncated, response_bytes,
       response_sha256, response_truncated, terminal, exit_status)
SELECT r.id, s.id, r.kind, r.started_at, r.method, r.request_uri, r.request_headers, r.finished_at, r.response_code,
       r.response_headers, r.request_bytes, r.request_sha256, r.request_truncated, r.response_bytes,
       r.response_sha256, r.response_truncated, r.terminal, r.exit_status
FROM r JOIN s USING (session_key)
ON CONFLICT (id) DO NOTHING
)sql";

// Chunks of an exchange whose start was dropped (a full queue) have nothing to belong to: skipped.
constexpr const char* kChunksSql = R"sql(
INSERT INTO recording_chunks (exchange_id, stream, seq, raw_bytes, data, codec)
SELECT r.id, r.stream, r.seq, r.raw_bytes, decode(r.data, 'base64'), r.codec
FROM json_to_recordset($1::json) AS r(id uuid, stream text, seq integer, raw_bytes integer, data text, codec text)
WHERE EXISTS (SELECT 1 FROM recording_exchanges e WHERE e.id = r.id)
ON CONFLICT DO NOTHING
)sql";

constexpr const char* kEndsSql = R"sql(
UPDATE recording_exchanges e SET finished_at = r.finished_at, response_code = r.response_code,
       response_headers = r.response_headers, request_bytes = r.request_bytes, request_sha256 = r.request_sha256,
       request_truncated = r.request_truncated, response_bytes = r.response_bytes,
       response_sha256 = r.response_sha256, response_truncated = r.response_truncated, terminal = r.terminal,
       exit_status = r.exit_status
FROM json_to_recordset($1::json) AS r(id uuid, finished_at timestamptz, response_code integer, response_headers json,
     request_bytes bigint, request_sha256 text, request_truncated boolean, response_bytes bigint,
     response_sha256 text, response_truncated boolean, terminal json, exit_status json)
WHERE e.id = r.id
)sql";

nlohmann::json summary_fields(const char* prefix, const StreamSummary& s) {
  const std::string p(prefix);
  return {{p + "_bytes", s.bytes}, {p + "_sha256", s.sha256}, {p + "_truncated", s.truncated}};
}

}  // namespace

RecordingWriter::RecordingWriter(RecordingWriterOptions options)
    : options_(std::move(options)), next_retention_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sluice-record");
    run();
  });
}

RecordingWriter::~RecordingWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

// What an item counts against max_queue_bytes, the same when it is queued and when it leaves.
std::size_t RecordingWriter::item_bytes(const Item& item) {
  if (const auto* c = std::get_if<ExchangeChunk>(&item)) return 64 + c->data.size();
  if (const auto* s = std::get_if<ExchangeStart>(&item)) return 512 + s->request_uri.size();
  return 512;
}

bool RecordingWriter::enqueue(Item item, bool force) {
  const std::size_t bytes = item_bytes(item);
  std::lock_guard lock(mu_);
  if (stopping_ || (!force && queued_bytes_ + bytes > options_.max_queue_bytes)) return false;
  queue_.push_back(std::move(item));
  queued_bytes_ += bytes;
  // The writer polls (kPollInterval): a recording may land a moment later, and a request does not
  // pay a thread wake-up. Only a growing backlog wakes it early.
  if (queued_bytes_ >= kWakeBytes && queued_bytes_ - bytes < kWakeBytes) wake_.notify_one();
  return true;
}

bool RecordingWriter::push(ExchangeStart e) { return enqueue(std::move(e), false); }

bool RecordingWriter::push(ExchangeChunk e) { return enqueue(std::move(e), false); }

void RecordingWriter::push(ExchangeEnd e) { enqueue(std::move(e), true); }

void RecordingWriter::run() {
  std::chrono::milliseconds backoff{0};
  for (;;) {
    std::deque<Item> items;
    {
      std::unique_lock lock(mu_);
      if (backoff.count() > 0) wake_.wait_for(lock, backoff, [this] { return stopping_; });
      wake_.wait_for(lock, kPollInterval, [this] { return stopping_ || queued_bytes_ >= kWakeBytes; });
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && items.size() < kMaxBatchItems) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!items.empty()) {
      std::size_t bytes = 0;
      for (const auto& it : items) bytes += item_bytes(it);  // before write(), which may drop them
      if (write(items)) {
        backoff = std::chrono::milliseconds{0};
        std::lock_guard lock(mu_);
        queued_bytes_ -= std::min(queued_bytes_, bytes);
      } else {
        backoff = std::min(std::chrono::milliseconds{2000}, std::max(std::chrono::milliseconds{100}, backoff * 2));
        std::lock_guard lock(mu_);
        if (stopping_) return;
        for (auto it = items.rbegin(); it != items.rend(); ++it) queue_.push_front(std::move(*it));
        continue;
      }
    }
    if (options_.retention.count() > 0 && std::chrono::steady_clock::now() >= next_retention_) {
      next_retention_ = std::chrono::steady_clock::now() + options_.retention_check;
      apply_retention();
    }
  }
}

void RecordingWriter::connect() {
  if (conn_ && conn_->is_open()) return;
  conn_ = std::make_unique<pqxx::connection>(options_.database_url);
  pqxx::nontransaction(*conn_).exec("SET statement_timeout = '30s'");
  conn_->prepare("rec_starts", kStartsSql);
  conn_->prepare("rec_chunks", kChunksSql);
  conn_->prepare("rec_ends", kEndsSql);
}

bool RecordingWriter::write(std::deque<Item>& items) {
  try {
    connect();
    nlohmann::json starts = nlohmann::json::array(), chunks = nlohmann::json::array(), ends = nlohmann::json::array();
    std::unordered_map<std::string, std::size_t> start_at;
    for (const auto& item : items) {
      if (const auto* s = std::get_if<ExchangeStart>(&item)) {
        start_at[s->id] = starts.size();
        starts.push_back({{"id", s->id}, {"session_key", s->session_key}, {"cluster", s->cluster},
                          {"username", s->username}, {"kubectl_command", s->kubectl_command},
                          {"started_at", audit::to_pg_timestamp(s->started_at)}, {"kind", s->kind},
                          {"method", s->method}, {"request_uri", s->request_uri},
                          {"request_headers", s->request_headers}});
      } else if (const auto* c = std::get_if<ExchangeChunk>(&item)) {
        chunks.push_back({{"id", c->id}, {"stream", c->stream}, {"seq", c->seq}, {"raw_bytes", c->data.size()},
                          {"data", common::base64_encode(store::pack_chunk(c->data))}, {"codec", store::kChunkCodec}});
      } else {
        const auto& e = std::get<ExchangeEnd>(item);
        nlohmann::json row = {{"id", e.id}, {"finished_at", audit::to_pg_timestamp(e.finished_at)},
                              {"response_code", e.response_code}, {"response_headers", e.response_headers},
                              {"terminal", e.terminal}, {"exit_status", e.exit_status}};
        row.update(summary_fields("request", e.request));
        row.update(summary_fields("response", e.response));
        // Most exchanges start and end within one batch: the row is then inserted whole, no UPDATE.
        if (auto it = start_at.find(e.id); it != start_at.end()) starts[it->second].update(row);
        else ends.push_back(std::move(row));
      }
    }
    auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
    pqxx::work tx(*conn_);
    if (!starts.empty()) tx.exec_prepared("rec_starts", dump(starts));
    if (!chunks.empty()) tx.exec_prepared("rec_chunks", dump(chunks));
    if (!ends.empty()) tx.exec_prepared("rec_ends", dump(ends));
    tx.commit();
    return true;
  } catch (const pqxx::broken_connection& e) {
    spdlog::error("recording: database unreachable ({} items waiting): {}", items.size(), e.what());
    conn_.reset();
    return false;
  } catch (const std::exception& e) {
    // Refused by the database: the same items would fail again forever, so they are dropped.
    spdlog::error("recording: the database refused a batch of {} items (dropped): {}", items.size(), e.what());
    conn_.reset();
    items.clear();
    return true;
  }
}

void RecordingWriter::apply_retention() {
  // Small batches, each its own transaction: no lock is held for long, writers go on meanwhile.
  try {
    connect();
    const std::string cutoff = audit::to_pg_timestamp(audit::Clock::now() - options_.retention);
    std::size_t exchanges = 0, sessions = 0;
    for (;;) {
      pqxx::work tx(*conn_);
      const auto r = tx.exec_params("DELETE FROM recording_exchanges WHERE id IN (SELECT id FROM recording_exchanges "
                                    "WHERE started_at < $1::timestamptz LIMIT 500)", cutoff);
      tx.commit();
      exchanges += r.affected_rows();
      if (r.affected_rows() < 500) break;
    }
    for (;;) {
      pqxx::work tx(*conn_);
      const auto r = tx.exec_params(
          "DELETE FROM recording_sessions WHERE id IN (SELECT s.id FROM recording_sessions s WHERE s.last_at < "
          "$1::timestamptz AND NOT EXISTS (SELECT 1 FROM recording_exchanges e WHERE e.session_id = s.id) LIMIT 500)",
          cutoff);
      tx.commit();
      sessions += r.affected_rows();
      if (r.affected_rows() < 500) break;
    }
    if (exchanges || sessions)
      spdlog::info("recording: retention removed {} exchanges and {} sessions older than {}", exchanges, sessions, cutoff);
  } catch (const std::exception& e) {
    conn_.reset();
    spdlog::warn("recording: retention failed (tried again later): {}", e.what());
  }
}

}  // namespace sluice::gateway::recording
