#include "gateway/audit/audit_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway/audit/audit_row.h"

namespace sluice::gateway::audit {
namespace {

constexpr std::chrono::milliseconds kOutcomeDelay{50};

}  // namespace

// One statement for a whole batch, prepared once: the rows travel as two JSON arrays (json, not
// jsonb: read once, no binary form or key sorting to build), so a batch costs one round trip and
// one commit. Both tables are append-only; a refusal's outcome is in the same batch as its intent.
// The gate: the batch lands only if the link before it ($4 in chain $3) is stored, so a batch sent
// behind one that failed inserts nothing, and the chain never gets a hole. A batch whose first link
// is stored already (it committed, but the connection was lost before its answer) is not written
// again and counts as landed: a batch is one transaction, so all of it is there. That is why the
// inserts need no ON CONFLICT, whose speculative insertion cost PostgreSQL a lock and an index
// probe per row.
const char* const kWriteBatchSql = R"sql(
WITH links AS (
  SELECT chain_seq FROM audit_events WHERE chain_id = $3::uuid AND chain_seq IN ($4::bigint, $4::bigint + 1)
  UNION ALL
  SELECT chain_seq FROM audit_outcomes WHERE chain_id = $3::uuid AND chain_seq IN ($4::bigint, $4::bigint + 1)
), gate AS (
  SELECT ($4::bigint = 0 OR EXISTS (SELECT 1 FROM links WHERE chain_seq = $4::bigint))
         AND NOT EXISTS (SELECT 1 FROM links WHERE chain_seq = $4::bigint + 1) AS write,
         EXISTS (SELECT 1 FROM links WHERE chain_seq = $4::bigint + 1) AS stored
), intents AS (
  INSERT INTO audit_events (received_at, id, cluster, username, uid, groups, auth_method, source_ip, user_agent,
                            kubectl_command, kubectl_session, verb, api_group, api_version, resource, subresource,
                            namespace, name, request_uri, dry_run, decision, decision_reason, approval_id,
                            chain_id, chain_seq, prev_hash, row_hash, parent_id)
  SELECT received_at, id, cluster, username, uid, groups, auth_method, source_ip, user_agent, kubectl_command,
         kubectl_session, verb, api_group, api_version, resource, subresource, namespace, name, request_uri, dry_run,
         decision, decision_reason, approval_id, chain_id, chain_seq, prev_hash, row_hash, parent_id
  FROM json_to_recordset($1::json) AS r(received_at timestamptz, id uuid, cluster text, username text, uid text,
       groups text[], auth_method text, source_ip text, user_agent text, kubectl_command text, kubectl_session text,
       verb text, api_group text, api_version text, resource text, subresource text, namespace text, name text,
       request_uri text, dry_run boolean, decision text, decision_reason text, approval_id uuid,
       chain_id uuid, chain_seq bigint, prev_hash text, row_hash text, parent_id uuid)
  WHERE (SELECT write FROM gate)
), outcomes AS (
  INSERT INTO audit_outcomes (received_at, id, response_code, duration_ms, bytes_in, bytes_out, finished_at,
                              chain_id, chain_seq, prev_hash, row_hash)
  SELECT received_at, id, response_code, duration_ms, bytes_in, bytes_out, finished_at,
         chain_id, chain_seq, prev_hash, row_hash
  FROM json_to_recordset($2::json) AS v(received_at timestamptz, id uuid, response_code integer,
       duration_ms double precision, bytes_in bigint, bytes_out bigint, finished_at timestamptz,
       chain_id uuid, chain_seq bigint, prev_hash text, row_hash text)
  WHERE (SELECT write FROM gate)
)
SELECT write OR stored FROM gate
)sql";

namespace {

// Where the chain's last stored link is: the head to continue from when the database holds
// something other than what this writer believed it wrote.
constexpr const char* kChainHeadSql = R"sql(
SELECT chain_seq, row_hash FROM (
  SELECT chain_seq, row_hash FROM audit_events WHERE chain_id = $1::uuid
  UNION ALL SELECT chain_seq, row_hash FROM audit_outcomes WHERE chain_id = $1::uuid) c
ORDER BY chain_seq DESC LIMIT 1
)sql";

using SteadyClock = std::chrono::steady_clock;

void append_row(std::string& rows, std::string row) {
  if (rows.size() > 1) rows += ',';
  rows += row;
}

}  // namespace

AuditWriter::AuditWriter(AuditWriterOptions options) : options_(std::move(options)) {
  // libpq waits this long (seconds) for a connection: an unreachable database must not stall the
  // writer for longer than an intent may wait.
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "audit writer: eventfd");
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sluice-audit");  // named in top -H, perf and /proc
    run();
  });
}

AuditWriter::~AuditWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  ::close(wake_fd_);
}

void AuditWriter::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);  // a full counter wakes as well
}

void AuditWriter::record_intent(AuditIntent intent, Committed done) {
  bool accepted = false, wake_writer = false;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && intents_.size() < options_.max_queue) {
      intents_.push_back({std::move(intent), std::move(done), SteadyClock::now() + options_.commit_timeout});
      accepted = true;
      // Woken once per batch, not per intent: while it is busy, what queues up goes out next.
      wake_writer = std::exchange(idle_, false);
    }
  }
  if (wake_writer) wake();
  if (accepted) return;
  spdlog::warn("audit: queue full or stopping; request {} refused", intent.id);
  done(false);
}

void AuditWriter::record_outcome(AuditOutcome outcome) {
  bool wake_writer = false;
  {
    std::lock_guard lock(mu_);
    if (outcomes_.size() >= options_.max_queue) {
      spdlog::warn("audit: outcome queue full; outcome of {} dropped", outcomes_.front().id);
      outcomes_.pop_front();
    }
    if (outcomes_.empty()) outcomes_since_ = SteadyClock::now();
    outcomes_.push_back(std::move(outcome));
    if (outcomes_.size() >= options_.max_batch) wake_writer = std::exchange(idle_, false);
  }
  if (wake_writer) wake();
}

bool AuditWriter::connect() {
  conn_ = PQconnectdb(options_.database_url.c_str());
  auto failed = [this](const char* what) {
    spdlog::error("audit: database unreachable ({}): {}", what, PQerrorMessage(conn_));
    disconnect();
    return false;
  };
  if (PQstatus(conn_) != CONNECTION_OK) return failed("connect");
  // A query that hangs (a stalled server) must fail in bounded time as well (statement_timeout).
  // This connection runs one prepared statement only, planned once (force_generic_plan: left to
  // itself PostgreSQL re-planned it for every batch, which measured more than the rows' own work).
  PGresult* r = PQexec(conn_, "SET statement_timeout = '5s'; SET plan_cache_mode = force_generic_plan");
  const bool set = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!set) return failed("settings");
  r = PQprepare(conn_, "audit_write_batch", kWriteBatchSql, 4, nullptr);
  const bool prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!prepared) return failed("prepare");
  if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1) return failed("pipeline mode");
  spdlog::info("audit: connected to the database");
  return true;
}

void AuditWriter::disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

// The next batch to send, from what was sent before and must go again (in its order and make-up,
// so a batch that did land after all is written again identically and the copy is skipped) or
// from the queues. Intents past their deadline are refused here, not written: their request has
// been answered 503, and the trail must not claim it was let through.
bool AuditWriter::take_batch(Batch& batch, bool flush_outcomes) {
  for (;;) {
    if (!retry_.empty()) {
      batch = std::move(retry_.front());
      retry_.pop_front();
    } else {
      std::lock_guard lock(mu_);
      while (!intents_.empty() && batch.intents.size() < options_.max_batch) {
        batch.intents.push_back(std::move(intents_.front()));
        intents_.pop_front();
      }
      // Outcomes ride along with intents, or go when enough queued up or waited long enough.
      if (!batch.intents.empty() || flush_outcomes || stopping_ || outcomes_.size() >= options_.max_batch) {
        while (!outcomes_.empty() && batch.outcomes.size() < options_.max_batch) {
          batch.outcomes.push_back(std::move(outcomes_.front()));
          outcomes_.pop_front();
        }
        outcomes_since_ = SteadyClock::now();
      }
    }
    const auto now = SteadyClock::now();
    std::erase_if(batch.intents, [now](PendingIntent& p) {
      if (p.deadline > now) return false;
      p.done(false);
      return true;
    });
    if (!batch.intents.empty() || !batch.outcomes.empty()) return true;
    std::lock_guard lock(mu_);
    if (retry_.empty() && intents_.empty()) return false;
  }
}

bool AuditWriter::send_batch(Batch& batch) {
  // Every row becomes the next link of this writer's hash chain (audit_chain.h), in write order.
  const std::string prev_seq = std::to_string(chain_.head().seq);
  std::string intent_rows = "[", outcome_rows = "[";
  auto add = [this](std::string& rows, std::string row) {
    chain_.link(row);
    append_row(rows, std::move(row));
  };
  for (const auto& p : batch.intents) {
    add(intent_rows, intent_row(p.intent));
    if (p.intent.outcome) add(outcome_rows, outcome_row(*p.intent.outcome));
  }
  for (const auto& o : batch.outcomes) add(outcome_rows, outcome_row(o));
  intent_rows += ']';
  outcome_rows += ']';
  batch.head = chain_.head();
  batch.wait = Batch::Wait::result;
  batch.landed = false;
  batch.error.clear();
  const char* values[] = {intent_rows.c_str(), outcome_rows.c_str(), chain_.id().c_str(), prev_seq.c_str()};
  return PQsendQueryPrepared(conn_, "audit_write_batch", 4, values, nullptr, nullptr, 0) == 1 &&
         PQpipelineSync(conn_) == 1 && PQflush(conn_) >= 0;
}

// Reads what arrived. Each batch answers with its statement's result, the end of that result (a
// null), and its Sync; batches answer in the order they were sent. False: the connection broke.
bool AuditWriter::read_results() {
  if (PQconsumeInput(conn_) != 1) return false;
  int nulls = 0;
  while (!in_flight_.empty() && PQisBusy(conn_) == 0) {
    Batch& b = in_flight_.front();
    PGresult* r = PQgetResult(conn_);
    if (!r) {
      if (b.wait == Batch::Wait::end_of_result) b.wait = Batch::Wait::sync;
      if (++nulls > 1) break;  // nothing more to read yet
      continue;
    }
    nulls = 0;
    const ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      if (b.wait == Batch::Wait::result && b.error.empty()) b.error = "no result before the batch's sync";
      Batch done = std::move(b);
      in_flight_.pop_front();
      batch_done(done);
      continue;
    }
    if (b.wait == Batch::Wait::result) {
      if (status == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        b.landed = std::string_view(PQgetvalue(r, 0, 0)) == "t";
        if (!b.landed) b.error = "gate";
      } else {
        const char* message = PQresultErrorMessage(r);
        b.error = message && *message ? message : PQresStatus(status);
      }
      b.wait = Batch::Wait::end_of_result;
    }
    PQclear(r);
  }
  return PQstatus(conn_) != CONNECTION_BAD;
}

void AuditWriter::batch_done(Batch& batch) {
  if (batch.landed) {
    chain_.commit(batch.head);
    backoff_ = std::chrono::milliseconds{0};
    spdlog::debug("audit: batch of {} intents, {} outcomes written", batch.intents.size(), batch.outcomes.size());
    for (auto& p : batch.intents) p.done(true);
    return;
  }
  // Not written: every batch sent after it links onto it and lands nowhere either. Nothing new
  // goes out until they all came back; then they go again, in order, linked from the last
  // committed head.
  const bool first_failure = !failed_;
  failed_ = true;
  chain_.rollback();
  if (batch.error == "gate") {
    if (first_failure) {
      // Not explained by a batch before it: the stored chain ends elsewhere than this writer
      // believed (rows removed under it). Go on from what is stored.
      spdlog::error("audit: chain {}: link {} is not stored; continuing from the chain's last stored link",
                    chain_.id(), chain_.committed().seq);
      resync_head_ = true;
    }
  } else {
    // The database is there but refused the batch. Intents retry until their deadline; outcomes
    // would fail the same way forever, so they are dropped (the intent rows stay).
    spdlog::error("audit: the database refused a batch ({} intents, {} outcomes dropped): {}", batch.intents.size(),
                  batch.outcomes.size(), batch.error);
    batch.outcomes.clear();
    refused_ = true;
  }
  if (!batch.intents.empty() || !batch.outcomes.empty())
    retry_.insert(retry_.begin() + static_cast<std::ptrdiff_t>(std::min(requeued_++, retry_.size())), std::move(batch));
}

void AuditWriter::requeue_in_flight() {
  chain_.rollback();
  for (auto& b : in_flight_)
    retry_.insert(retry_.begin() + static_cast<std::ptrdiff_t>(std::min(requeued_++, retry_.size())), std::move(b));
  in_flight_.clear();
  requeued_ = 0;
  failed_ = false;
}

bool AuditWriter::resync_head() {
  // A plain query: out of pipeline mode for it (nothing is in flight), then back.
  if (PQexitPipelineMode(conn_) != 1) return false;
  const char* values[] = {chain_.id().c_str()};
  PGresult* r = PQexecParams(conn_, kChainHeadSql, 1, nullptr, values, nullptr, nullptr, 0);
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  if (ok && PQntuples(r) == 1) {
    chain_.commit({std::stoll(PQgetvalue(r, 0, 0)), PQgetvalue(r, 0, 1)});
    chain_.rollback();
  }
  PQclear(r);
  return PQenterPipelineMode(conn_) == 1 && ok;
}

void AuditWriter::expire_queued() {
  // The queue is in deadline order (one commit_timeout for all).
  std::deque<PendingIntent> expired;
  {
    std::lock_guard lock(mu_);
    const auto now = SteadyClock::now();
    while (!intents_.empty() && intents_.front().deadline <= now) {
      expired.push_back(std::move(intents_.front()));
      intents_.pop_front();
    }
  }
  for (auto& p : expired) p.done(false);
}

void AuditWriter::run() {
  SteadyClock::time_point retry_at{};  // neither connect nor send before this
  auto back_off = [&] {
    backoff_ = std::min(std::chrono::milliseconds{1000}, std::max(std::chrono::milliseconds{50}, backoff_ * 2));
    retry_at = SteadyClock::now() + backoff_;
  };
  auto broken = [&] {
    spdlog::error("audit: database connection lost ({} batches in flight): {}", in_flight_.size(),
                  conn_ ? PQerrorMessage(conn_) : "");
    requeue_in_flight();
    disconnect();
    back_off();
  };
  for (;;) {
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
    }
    auto now = SteadyClock::now();
    if (!conn_ && now >= retry_at) {
      if (!connect()) back_off();
    }
    if (!conn_ && stopping) break;
    if (conn_ && in_flight_.empty()) {
      failed_ = false;
      requeued_ = 0;
      if (refused_) {  // wait a little before the refused batch goes again
        refused_ = false;
        back_off();
      }
      if (resync_head_ && resync_head()) resync_head_ = false;
    }
    // Send while the pipeline has room (not after a failure: what failed goes again first).
    bool flush_outcomes;
    {
      std::lock_guard lock(mu_);
      flush_outcomes = !outcomes_.empty() && SteadyClock::now() - outcomes_since_ >= kOutcomeDelay;
    }
    while (conn_ && !failed_ && in_flight_.size() < kBatchesInFlight && SteadyClock::now() >= retry_at) {
      Batch b;
      if (!take_batch(b, flush_outcomes)) break;
      in_flight_.push_back(std::move(b));
      if (!send_batch(in_flight_.back())) {
        broken();
        break;
      }
    }
    now = SteadyClock::now();
    auto until = [&now](SteadyClock::time_point t) {
      return static_cast<int>(std::clamp<long long>(std::chrono::ceil<std::chrono::milliseconds>(t - now).count(), 0, 1000));
    };
    const bool can_send = conn_ && !failed_ && in_flight_.size() < kBatchesInFlight;
    int timeout_ms = 1000;  // at least once a second: expire what waits in vain
    {
      std::lock_guard lock(mu_);
      const bool queued = !intents_.empty() || !outcomes_.empty() || !retry_.empty();
      if (stopping_ && conn_ && !queued && in_flight_.empty()) break;
      if (!conn_ || (can_send && retry_at > now)) timeout_ms = until(retry_at);
      else if (can_send && (!intents_.empty() || !retry_.empty())) timeout_ms = 0;  // came while we sent
      else if (can_send && !outcomes_.empty()) timeout_ms = until(outcomes_since_ + kOutcomeDelay);
      // Woken by new work only while there is room to send it.
      idle_ = can_send;
    }
    if (!conn_) expire_queued();
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
    if (conn_) fds[1] = {PQsocket(conn_), static_cast<short>(POLLIN | (PQflush(conn_) == 1 ? POLLOUT : 0)), 0};
    ::poll(fds, conn_ ? 2 : 1, timeout_ms);
    {
      std::lock_guard lock(mu_);
      idle_ = false;
    }
    if (fds[0].revents & POLLIN) {
      std::uint64_t n;
      [[maybe_unused]] const auto r = ::read(wake_fd_, &n, sizeof n);
    }
    if (conn_ && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) && !read_results()) broken();
    else if (conn_ && (fds[1].revents & POLLOUT) && PQflush(conn_) < 0) broken();
  }
  // Stopping: what could not be written is refused.
  std::deque<PendingIntent> left;
  {
    std::lock_guard lock(mu_);
    left.swap(intents_);
  }
  for (auto& b : in_flight_)
    for (auto& p : b.intents) p.done(false);
  for (auto& b : retry_)
    for (auto& p : b.intents) p.done(false);
  for (auto& p : left) p.done(false);
  disconnect();
}

}  // namespace sluice::gateway::audit
