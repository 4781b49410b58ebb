// Email over SMTP with libcurl (smtp://, or smtps:// and STARTTLS when the server offers it; AUTH
// when a username is set): a plain-text message with the same facts and links as the others.
#pragma once
#include "gateway/notify/notification_sink.h"

namespace sluice::gateway::notify {

// The RFC 5322 message (headers, blank line, body, CRLF line ends). Pure, for tests.
std::string email_message(const nlohmann::json& event, const std::string& from, const std::vector<std::string>& to,
                          long long delivery_id);

class EmailSink : public NotificationSink {
 public:
  explicit EmailSink(const NotificationSinkSettings& s);
  const std::string& name() const override { return name_; }
  Delivery deliver(const nlohmann::json& event, long long delivery_id) override;

 private:
  std::string name_, url_, ca_file_, from_, username_, password_;
  std::vector<std::string> to_;
};

}  // namespace sluice::gateway::notify
