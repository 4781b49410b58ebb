#include "gateway/notify/slack_sink.h"

#include "gateway/notify/approval_event.h"
#include "gateway/notify/http_post.h"

namespace sluice::gateway::notify {

using nlohmann::json;

namespace {
// Slack's mrkdwn treats these three as markup; everything else passes as text.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}
}  // namespace

json slack_message(const json& event) {
  json fields = json::array();
  for (const auto& [label, value] : summary_fields(event))
    fields.push_back({{"type", "mrkdwn"}, {"text", "*" + label + "*\n" + escape(value)}});
  const auto& links = event["links"];
  auto button = [](const std::string& text, const std::string& url, const char* style) {
    json b = {{"type", "button"}, {"text", {{"type", "plain_text"}, {"text", text}}}, {"url", url}};
    if (style) b["style"] = style;
    return b;
  };
  return {{"text", headline(event)},  // the notification's fallback text
          {"blocks",
           json::array({{{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", "Approval needed"}}}},
                        {{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", escape(headline(event))}}}},
                        {{"type", "section"}, {"fields", fields}},
                        {{"type", "actions"},
                         // A button opens a browser (a GET): the UI's page, where reviewers decide.
                         {"elements", json::array({button("Review and decide", links.value("review", ""), "primary")})}},
                        {{"type", "context"},
                         {"elements", json::array({{{"type", "mrkdwn"},
                                                    {"text", "`" + links.value("cli", "") + "`"}}})}}})}};
}

SlackSink::SlackSink(const NotificationSinkSettings& s)
    : name_(s.name), url_(s.url.empty() ? read_secret_file(s.url_file) : s.url), ca_file_(s.ca_file) {}

Delivery SlackSink::deliver(const json& event, long long) {
  return http_post(url_, slack_message(event).dump(), {{"Content-Type", "application/json"}}, ca_file_);
}

}  // namespace sluice::gateway::notify
