// One way of telling reviewers about an approval (webhook, Slack, email). Sinks are called from
// the outbox's own thread (outbox.h) and may block there, never on an Asio thread.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "gateway/config/gateway_config.h"

namespace sluice::gateway::notify {

struct Delivery {
  bool ok = false;
  std::string error;  // why not, for the outbox row and the log (never a secret)
};

class NotificationSink {
 public:
  virtual ~NotificationSink() = default;
  virtual const std::string& name() const = 0;
  // `event` is what approval_event() built; `delivery_id` is the outbox row's id, so a receiver
  // can drop a repeat after a retry whose first attempt did arrive.
  virtual Delivery deliver(const nlohmann::json& event, long long delivery_id) = 0;
};

// The configured sinks; throws std::runtime_error naming the sink when one cannot be set up (a
// missing secret file).
std::vector<std::unique_ptr<NotificationSink>> make_sinks(const NotificationSettings& settings);

}  // namespace sluice::gateway::notify
