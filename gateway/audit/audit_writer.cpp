#include "gateway/audit/audit_writer.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace sluice::gateway::audit {
namespace {

std::string quoted_array(pqxx::work& tx, const std::vector<std::string>& items) {
  if (items.empty()) return "'{}'::text[]";
  std::string out = "ARRAY[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + tx.quote(items[i]);
  return out + "]::text[]";
}

std::string intent_values(pqxx::work& tx, const AuditIntent& a) {
  const auto& r = a.request;
  std::string v = "(";
  auto add = [&](const std::string& s) { v += (v.size() > 1 ? "," : "") + s; };
  add(tx.quote(to_pg_timestamp(a.received_at)) + "::timestamptz");
  add(tx.quote(a.id) + "::uuid");
  for (const std::string* s : {&a.cluster, &a.who.user, &a.who.uid}) add(tx.quote(*s));
  add(quoted_array(tx, a.who.groups));
  for (const std::string* s : {&a.who.method, &a.source_ip, &a.user_agent, &a.kubectl_command, &a.kubectl_session,
                               &r.verb, &r.api_group, &r.api_version, &r.resource, &r.subresource, &r.namespace_name,
                               &r.name, &a.request_uri})
    add(tx.quote(*s));
  add(r.dry_run ? "true" : "false");
  add(tx.quote(a.decision));
  add(tx.quote(a.decision_reason));
  return v + ")";
}

std::string outcome_values(pqxx::work& tx, const AuditOutcome& o) {
  return "(" + tx.quote(to_pg_timestamp(o.received_at)) + "::timestamptz," + tx.quote(o.id) + "::uuid," +
         std::to_string(o.response_code) + "::integer," + std::to_string(o.duration_ms) + "::double precision," +
         std::to_string(o.bytes_in) + "::bigint," + std::to_string(o.bytes_out) + "::bigint," +
         tx.quote(to_pg_timestamp(o.finished_at)) + "::timestamptz)";
}

}  // namespace

AuditWriter::AuditWriter(AuditWriterOptions options) : options_(std::move(options)) {
  // libpq waits this long (seconds) for a connection: an unreachable database must not stall the
  // writer for longer than an intent may wait.
  ::setenv("PGCONNECT_TIMEOUT", "3", 0);
  thread_ = std::thread([this] { run(); });
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
      wake_.notify_one();
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
  wake_.notify_one();
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
      wake_.wait(lock, [this] { return stopping_ || !intents_.empty() || !outcomes_.empty(); });
      if (stopping_ && intents_.empty() && outcomes_.empty()) return;
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
      // A query that hangs (a stalled server) must fail in bounded time as well.
      pqxx::nontransaction(*conn_).exec("SET statement_timeout = '5s'");
      spdlog::info("audit: connected to the database");
    }
    pqxx::work tx(*conn_);
    if (!intents.empty()) {
      std::string sql =
          "INSERT INTO audit_events (received_at, id, cluster, username, uid, groups, auth_method, source_ip, "
          "user_agent, kubectl_command, kubectl_session, verb, api_group, api_version, resource, subresource, "
          "namespace, name, request_uri, dry_run, decision, decision_reason) VALUES ";
      for (std::size_t i = 0; i < intents.size(); ++i) sql += (i ? "," : "") + intent_values(tx, intents[i].intent);
      tx.exec(sql + " ON CONFLICT DO NOTHING");
    }
    if (!outcomes.empty()) {
      std::string sql =
          "UPDATE audit_events AS a SET response_code = v.code, duration_ms = v.duration, bytes_in = v.bytes_in, "
          "bytes_out = v.bytes_out, finished_at = v.finished FROM (VALUES ";
      for (std::size_t i = 0; i < outcomes.size(); ++i) sql += (i ? "," : "") + outcome_values(tx, outcomes[i]);
      tx.exec(sql + ") AS v(received_at, id, code, duration, bytes_in, bytes_out, finished) "
                    "WHERE a.received_at = v.received_at AND a.id = v.id");
    }
    tx.commit();
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
