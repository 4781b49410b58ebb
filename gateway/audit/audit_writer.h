// Group commit for audit rows. Requests hand their intent to the writer and continue only when
// the row is committed; the writer's own thread and connection put everything that queued up
// meanwhile into one transaction (one fsync for many requests), so no Asio thread ever waits on
// PostgreSQL and throughput does not drop to one commit per request. Outcomes are batched the same
// way, fire and forget. If PostgreSQL is down the writer reconnects with backoff; intents that
// cannot be committed in time are refused (fail closed: the caller answers 503).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <pqxx/connection>

#include "gateway/audit/audit_chain.h"
#include "gateway/audit/audit_event.h"


namespace sluice::gateway::audit {

struct AuditWriterOptions {
  std::string database_url;
  std::chrono::milliseconds commit_timeout{2000};  // an intent older than this is refused, not written
  std::size_t max_batch = 512;                     // rows per transaction
  std::size_t max_queue = 50000;                   // beyond this new intents are refused at once
};

class AuditWriter {
 public:
  // Called once, from the writer's thread: true when the row is committed. Post to your strand.
  using Committed = std::function<void(bool)>;

  explicit AuditWriter(AuditWriterOptions options);
  ~AuditWriter();  // writes what is queued (best effort, bounded by commit_timeout), then stops
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  void record_intent(AuditIntent intent, Committed done);
  void record_outcome(AuditOutcome outcome);

  const AuditWriterOptions& options() const { return options_; }
  const std::string& chain_id() const { return chain_.id(); }  // fixed for the writer's life

 private:
  struct PendingIntent {
    AuditIntent intent;
    Committed done;
    std::chrono::steady_clock::time_point deadline;
  };
  void run();
  bool write_batch(std::deque<PendingIntent>& intents, std::deque<AuditOutcome>& outcomes);

  AuditWriterOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<PendingIntent> intents_;
  std::deque<AuditOutcome> outcomes_;
  bool stopping_ = false;
  bool idle_ = false;  // the writer waits for work: record_intent must wake it
  std::unique_ptr<pqxx::connection> conn_;  // writer thread only
  AuditChain chain_;                        // writer thread only
  std::thread thread_;
};

}  // namespace sluice::gateway::audit
