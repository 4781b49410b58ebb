#include "gateway/notify/outbox.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

namespace sluice::gateway::notify {

NotificationOutbox::NotificationOutbox(OutboxOptions options, std::vector<std::unique_ptr<NotificationSink>> sinks)
    : options_(std::move(options)), sinks_(std::move(sinks)) {
  ticker_.start([this] { return tick(); });
}

NotificationOutbox::~NotificationOutbox() { ticker_.stop(); }

std::vector<std::string> NotificationOutbox::sink_names() const {
  std::vector<std::string> names;
  for (const auto& s : sinks_) names.push_back(s->name());
  return names;
}

NotificationSink* NotificationOutbox::sink(const std::string& name) {
  for (auto& s : sinks_)
    if (s->name() == name) return s.get();
  return nullptr;
}

std::chrono::milliseconds NotificationOutbox::tick() {
  try {
    return deliver_due() > 0 ? std::chrono::milliseconds(0) : options_.poll;  // more may be due at once
  } catch (const std::exception& e) {
    spdlog::warn("notifications: the outbox is unreachable ({}); retrying", e.what());
    conn_.reset();
    return std::chrono::milliseconds(2000);
  }
}

int NotificationOutbox::deliver_due() {
  if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(options_.database_url);
  struct Row {
    long long id;
    std::string sink, payload;
    int attempts;
  };
  std::vector<Row> rows;
  {
    pqxx::work tx(*conn_);
    for (const auto& r : tx.exec("UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = now() + "
                                 "interval '60 seconds' WHERE id IN (SELECT id FROM notification_outbox WHERE state = "
                                 "'pending' AND next_attempt_at <= now() ORDER BY id LIMIT 16 FOR UPDATE SKIP LOCKED) "
                                 "RETURNING id, sink, payload::text, attempts"))
      rows.push_back({r[0].as<long long>(), r[1].c_str(), r[2].c_str(), r[3].as<int>()});
    tx.commit();
  }
  for (const auto& row : rows) {
    Delivery d;
    if (auto* s = sink(row.sink)) {
      auto event = nlohmann::json::parse(row.payload, nullptr, false);
      d = event.is_discarded() ? Delivery{false, "the stored event is not JSON"} : s->deliver(event, row.id);
    } else {
      d = {false, "no sink named \"" + row.sink + "\" is configured on this gateway"};
    }
    pqxx::work tx(*conn_);
    if (d.ok) {
      tx.exec_params("UPDATE notification_outbox SET state = 'delivered', delivered_at = now(), last_error = '' "
                     "WHERE id = $1",
                     row.id);
      spdlog::info("notifications: {} delivered through {} (attempt {})", row.id, row.sink, row.attempts);
    } else {
      const bool give_up = row.attempts >= options_.max_attempts;
      const auto backoff = std::min<long long>(options_.retry_max.count(),
                                               options_.retry_initial.count() << std::min(row.attempts - 1, 20));
      tx.exec_params("UPDATE notification_outbox SET state = $2, last_error = $3, next_attempt_at = now() + "
                     "make_interval(secs => $4::double precision / 1000) WHERE id = $1",
                     row.id, std::string(give_up ? "failed" : "pending"), d.error, backoff);
      spdlog::warn("notifications: {} through {} failed (attempt {}): {}{}", row.id, row.sink, row.attempts, d.error,
                   give_up ? "; giving up" : "; will retry");
    }
    tx.commit();
  }
  return static_cast<int>(rows.size());
}

}  // namespace sluice::gateway::notify
