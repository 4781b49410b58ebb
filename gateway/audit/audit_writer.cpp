#include "gateway/audit/audit_writer.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include <pthread.h>

namespace sluice::gateway::audit {
namespace {

constexpr std::chrono::milliseconds kOutcomeDelay{50};

// One statement for a whole batch, prepared once: the rows travel as two JSON arrays (json, not
// jsonb: read once, no binary form or key sorting to build), so a batch costs one round trip and
// one commit. Both tables are append-only; a refusal's outcome is in the same batch as its intent.
constexpr const char* kWriteBatchSql = R"sql(
WITH intents AS (
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
  ON CONFLICT DO NOTHING
)
INSERT INTO audit_outcomes (received_at, id, response_code, duration_ms, bytes_in, bytes_out, finished_at,
                            chain_id, chain_seq, prev_hash, row_hash)
SELECT received_at, id, response_code, duration_ms, bytes_in, bytes_out, finished_at,
       chain_id, chain_seq, prev_hash, row_hash
FROM json_to_recordset($2::json) AS v(received_at timestamptz, id uuid, response_code integer,
     duration_ms double precision, bytes_in bigint, bytes_out bigint, finished_at timestamptz,
     chain_id uuid, chain_seq bigint, prev_hash text, row_hash text)
ON CONFLICT DO NOTHING
)sql";

nlohmann::json outcome_json(const AuditOutcome& o) {
  return {{"received_at", to_pg_timestamp(o.received_at)}, {"id", o.id}, {"response_code", o.response_code},
          {"duration_ms", o.duration_ms}, {"bytes_in", o.bytes_in}, {"bytes_out", o.bytes_out},
          {"finished_at", to_pg_timestamp(o.finished_at)}};
}

nlohmann::json intent_json(const AuditIntent& a) {
  const auto& r = a.request;
  nlohmann::json row = {{"received_at", to_pg_timestamp(a.received_at)}, {"id", a.id}, {"cluster", a.cluster},
          {"username", a.who.user}, {"uid", a.who.uid}, {"groups", a.who.groups},
          {"auth_method", a.who.method}, {"source_ip", a.source_ip}, {"user_agent", a.user_agent},
          {"kubectl_command", a.kubectl_command}, {"kubectl_session", a.kubectl_session},
          {"verb", r.verb}, {"api_group", r.api_group}, {"api_version", r.api_version},
          {"resource", r.resource}, {"subresource", r.subresource}, {"namespace", r.namespace_name},
          {"name", r.name}, {"request_uri", a.request_uri}, {"dry_run", r.dry_run},
          {"decision", a.decision}, {"decision_reason", a.decision_reason},
          {"approval_id", a.approval_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.approval_id)}};
  if (!a.parent_id.empty()) row["parent_id"] = a.parent_id;  // absent, not null: older rows' content is unchanged
  return row;
}

}  // namespace

AuditWriter::AuditWriter(AuditWriterOptions options) : options_(std::move(options)) {
  // libpq waits this long (seconds) for a connection: an unreachable database must not stall the
  // writer for longer than an intent may wait.
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);
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
  wake_.notify_all();
  thread_.join();
}

void AuditWriter::record_intent(AuditIntent intent, Committed done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && intents_.size() < options_.max_queue) {
      intents_.push_back({std::move(intent), std::move(done),
                          std::chrono::steady_clock::now() + options_.commit_timeout});
      // While the writer is busy with a batch it is not woken per intent (a futex wake each).
      if (idle_) wake_.notify_one();
      return;
    }
  }
  spdlog::warn("audit: queue full or stopping; request {} refused", intent.id);
  done(false);
}

void AuditWriter::record_outcome(AuditOutcome outcome) {
  std::lock_guard lock(mu_);
  if (outcomes_.size() >= options_.max_queue) {
    spdlog::warn("audit: outcome queue full; outcome of {} dropped", outcomes_.front().id);
    outcomes_.pop_front();
  }
  outcomes_.push_back(std::move(outcome));
  if (outcomes_.size() >= options_.max_batch) wake_.notify_one();
}

void AuditWriter::run() {
  std::chrono::milliseconds backoff{0};
  for (;;) {
    std::deque<PendingIntent> intents;
    std::deque<AuditOutcome> outcomes;
    {
      std::unique_lock lock(mu_);
      if (backoff.count() > 0) {
        wake_.wait_for(lock, backoff, [this] { return stopping_; });
      }
      // Intents wake the writer at once (a request waits for them). Outcomes are fire and forget:
      // they ride along with the next intents or go out after kOutcomeDelay, in bigger batches.
      idle_ = true;
      wake_.wait_for(lock, kOutcomeDelay,
                     [this] { return stopping_ || !intents_.empty() || outcomes_.size() >= options_.max_batch; });
      idle_ = false;
      if (intents_.empty() && outcomes_.empty()) {
        if (stopping_) return;
        continue;
      }
      while (!intents_.empty() && intents.size() < options_.max_batch) {
        intents.push_back(std::move(intents_.front()));
        intents_.pop_front();
      }
      while (!outcomes_.empty() && outcomes.size() < options_.max_batch) {
        outcomes.push_back(std::move(outcomes_.front()));
        outcomes_.pop_front();
      }
    }
    // An intent whose request has already been refused (its deadline passed) is not written:
    // the audit trail must not claim a request was let through that never was.
    const auto now = std::chrono::steady_clock::now();
    for (auto it = intents.begin(); it != intents.end();) {
      if (it->deadline <= now) {
        it->done(false);
        it = intents.erase(it);
      } else {
        ++it;
      }
    }
    if (intents.empty() && outcomes.empty()) continue;
    if (write_batch(intents, outcomes)) {
      backoff = std::chrono::milliseconds{0};
      for (auto& p : intents) p.done(true);
      continue;
    }
    // Not written: put everything back in front (intents keep their deadlines) and retry later.
    backoff = std::min(std::chrono::milliseconds{1000}, std::max(std::chrono::milliseconds{50}, backoff * 2));
    std::lock_guard lock(mu_);
    if (stopping_) {
      for (auto& p : intents) p.done(false);
      return;
    }
    for (auto it = intents.rbegin(); it != intents.rend(); ++it) intents_.push_front(std::move(*it));
    for (auto it = outcomes.rbegin(); it != outcomes.rend(); ++it) outcomes_.push_front(std::move(*it));
  }
}

bool AuditWriter::write_batch(std::deque<PendingIntent>& intents, std::deque<AuditOutcome>& outcomes) {
  try {
    if (!conn_ || !conn_->is_open()) {
      conn_ = std::make_unique<pqxx::connection>(options_.database_url);
      // A query that hangs (a stalled server) must fail in bounded time as well (statement_timeout).
      // This connection runs one prepared statement only, planned once (force_generic_plan: left
      // to itself PostgreSQL re-planned it for every batch, which measured more than the rows'
      // own work).
      pqxx::nontransaction(*conn_).exec("SET statement_timeout = '5s'; SET plan_cache_mode = force_generic_plan");
      conn_->prepare("audit_write_batch", kWriteBatchSql);
      spdlog::info("audit: connected to the database");
    }
    // Every row becomes the next link of this writer's hash chain (audit_chain.h), in write order.
    nlohmann::json intent_rows = nlohmann::json::array(), outcome_rows = nlohmann::json::array();
    auto add = [this](nlohmann::json& rows, nlohmann::json row) {
      chain_.link(row);
      rows.push_back(std::move(row));
    };
    chain_.rollback();  // a batch that failed before is linked anew
    for (const auto& p : intents) {
      add(intent_rows, intent_json(p.intent));
      if (p.intent.outcome) add(outcome_rows, outcome_json(*p.intent.outcome));
    }
    for (const auto& o : outcomes) add(outcome_rows, outcome_json(o));
    pqxx::nontransaction tx(*conn_);
    const auto t0 = std::chrono::steady_clock::now();
    // Invalid UTF-8 in a header must not lose the row: the dump replaces it.
    tx.exec_prepared("audit_write_batch", intent_rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                     outcome_rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    chain_.commit();
    spdlog::debug("audit: batch of {} intents, {} outcomes in {} us", intents.size(), outcomes.size(),
                  std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
    return true;
  } catch (const pqxx::broken_connection& e) {
    spdlog::error("audit: database unreachable ({} intents, {} outcomes waiting): {}", intents.size(), outcomes.size(),
                  e.what());
    conn_.reset();
    return false;
  } catch (const std::exception& e) {
    // The database is there but refused the batch. Intents retry until their deadline; outcomes
    // would fail the same way forever, so they are dropped (the intent rows stay).
    spdlog::error("audit: the database refused a batch ({} intents, {} outcomes dropped): {}", intents.size(),
                  outcomes.size(), e.what());
    outcomes.clear();
    conn_.reset();
    return false;
  }
}

}  // namespace sluice::gateway::audit
