#include "gateway/notify/notification_sink.h"

#include <stdexcept>

#include "gateway/notify/email_sink.h"
#include "gateway/notify/slack_sink.h"
#include "gateway/notify/webhook_sink.h"

namespace sluice::gateway::notify {

std::vector<std::unique_ptr<NotificationSink>> make_sinks(const NotificationSettings& settings) {
  std::vector<std::unique_ptr<NotificationSink>> sinks;
  for (const auto& s : settings.sinks) {
    try {
      if (s.type == "webhook") sinks.push_back(std::make_unique<WebhookSink>(s));
      else if (s.type == "slack") sinks.push_back(std::make_unique<SlackSink>(s));
      else sinks.push_back(std::make_unique<EmailSink>(s));
    } catch (const std::exception& e) {
      throw std::runtime_error("notifications.sinks[" + s.name + "]: " + e.what());
    }
  }
  return sinks;
}

}  // namespace sluice::gateway::notify
