// Delivers the notification outbox (migration 0005): rows written with the approvals they
// announce, sent by a Ticker thread through their sink, retried with exponential backoff until
// delivered or out of attempts. A row is leased (its next attempt pushed a minute ahead) before
// it is sent, so several gateway replicas never send one row at once, and a gateway that dies
// mid-send leaves the row to be sent again: delivery is at least once (receivers dedupe on the
// delivery id).
#pragma once
#include <chrono>
#include <memory>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "common/worker.h"
#include "gateway/notify/notification_sink.h"

namespace sluice::gateway::notify {

struct OutboxOptions {
  std::string database_url;
  int max_attempts = 12;
  std::chrono::milliseconds retry_initial{1000};  // doubles per attempt
  std::chrono::milliseconds retry_max{300000};
  std::chrono::milliseconds poll{250};
};

class NotificationOutbox {
 public:
  NotificationOutbox(OutboxOptions options, std::vector<std::unique_ptr<NotificationSink>> sinks);
  ~NotificationOutbox();
  NotificationOutbox(const NotificationOutbox&) = delete;
  NotificationOutbox& operator=(const NotificationOutbox&) = delete;

  std::vector<std::string> sink_names() const;

 private:
  std::chrono::milliseconds tick();
  int deliver_due();  // how many rows it tried
  NotificationSink* sink(const std::string& name);

  const OutboxOptions options_;
  std::vector<std::unique_ptr<NotificationSink>> sinks_;
  std::unique_ptr<pqxx::connection> conn_;  // the ticker thread's own
  common::Ticker ticker_{"sluice-outbox"};   // last: stops before the rest goes
};

}  // namespace sluice::gateway::notify
