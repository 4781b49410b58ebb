// A Slack incoming webhook: a Block Kit message with the request's facts (requester, command,
// cluster, object, rule) and buttons linking to the approval in the API, approve and reject.
#pragma once
#include "gateway/notify/notification_sink.h"

namespace sluice::gateway::notify {

nlohmann::json slack_message(const nlohmann::json& event);  // pure, for tests

class SlackSink : public NotificationSink {
 public:
  explicit SlackSink(const NotificationSinkSettings& s);
  const std::string& name() const override { return name_; }
  Delivery deliver(const nlohmann::json& event, long long delivery_id) override;

 private:
  std::string name_, url_, ca_file_;
};

}  // namespace sluice::gateway::notify
