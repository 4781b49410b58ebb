// A generic JSON webhook: the event as it is, POSTed, with an HMAC-SHA256 signature of the body
// (X-Sluice-Signature-256: sha256=<hex>, the scheme GitHub's webhooks use) when a secret is set,
// and the delivery id (X-Sluice-Delivery) so the receiver can drop a repeat.
#pragma once
#include "gateway/notify/notification_sink.h"

namespace sluice::gateway::notify {

std::string hmac_sha256_hex(const std::string& key, const std::string& data);

class WebhookSink : public NotificationSink {
 public:
  explicit WebhookSink(const NotificationSinkSettings& s);
  const std::string& name() const override { return name_; }
  Delivery deliver(const nlohmann::json& event, long long delivery_id) override;

 private:
  std::string name_, url_, secret_, ca_file_;
};

}  // namespace sluice::gateway::notify
