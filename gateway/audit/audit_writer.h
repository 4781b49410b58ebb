// Group commit for audit rows. Requests hand their intent to the writer and continue only when
// the row is committed; the writer's own thread and connection put everything that queued up
// meanwhile into one transaction (one fsync for many requests), so no Asio thread ever waits on
// PostgreSQL and throughput does not drop to one commit per request. Outcomes are batched the same
// way, fire and forget. If PostgreSQL is down the writer reconnects with backoff; intents that
// cannot be committed in time are refused (fail closed: the caller answers 503).
//
// The connection runs in libpq's pipeline mode: while PostgreSQL commits one batch the writer
// builds and sends the next (kBatchesInFlight at most), and one poll() waits for both the
// database's answers and new work (an eventfd), so no thread waits on another per batch. Each
// batch is its own transaction, and lands only on its chain's previous link: when a batch fails,
// the ones sent after it insert nothing and are sent again, in order, relinked.
#pragma once
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <libpq-fe.h>

#include "gateway/audit/audit_chain.h"
#include "gateway/audit/audit_event.h"


namespace sluice::gateway::audit {

struct AuditWriterOptions {
  std::string database_url;
  std::chrono::milliseconds commit_timeout{2000};  // an intent older than this is refused, not written
  std::size_t max_batch = 512;                     // rows per transaction
  std::size_t max_queue = 50000;                   // beyond this new intents are refused at once
};

// The statement that writes one batch: $1 the intents and $2 the outcomes as JSON arrays of linked
// rows, $3 the chain, $4 the link before the batch. It answers true when the batch is stored.
extern const char* const kWriteBatchSql;

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
  static constexpr std::size_t kBatchesInFlight = 2;
  struct PendingIntent {
    AuditIntent intent;
    Committed done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Batch {
    std::deque<PendingIntent> intents;
    std::deque<AuditOutcome> outcomes;
    AuditChain::Head head;  // the chain's head once this batch is written
    enum class Wait { result, end_of_result, sync } wait = Wait::result;
    bool landed = false;     // PostgreSQL wrote its rows
    std::string error;       // why not, when it refused them
  };
  void run();
  bool connect();
  void disconnect();
  bool take_batch(Batch& batch, bool flush_outcomes);
  bool send_batch(Batch& batch);
  bool read_results();
  void batch_done(Batch& batch);
  void requeue_in_flight();
  bool resync_head();
  void expire_queued();
  void wake();

  AuditWriterOptions options_;
  std::mutex mu_;
  std::deque<PendingIntent> intents_;
  std::deque<AuditOutcome> outcomes_;
  bool stopping_ = false;
  bool idle_ = false;  // the writer waits in poll() and may send: record_intent must wake it
  std::chrono::steady_clock::time_point outcomes_since_;  // the oldest queued outcome's arrival
  int wake_fd_ = -1;                                      // an eventfd
  // Writer thread only:
  PGconn* conn_ = nullptr;
  std::deque<Batch> in_flight_;  // sent, oldest first
  std::deque<Batch> retry_;      // not written: they go again, in this order, before new work
  std::size_t requeued_ = 0;     // batches put back in front of retry_ since the last failure
  bool failed_ = false;          // a batch failed: send nothing until all in flight came back
  bool refused_ = false;         // ... and the database refused it: back off before sending again
  bool resync_head_ = false;     // the stored chain ends elsewhere: read its head before sending
  std::chrono::milliseconds backoff_{0};  // after a lost connection or a refused batch
  AuditChain chain_;
  std::thread thread_;
};

}  // namespace sluice::gateway::audit
