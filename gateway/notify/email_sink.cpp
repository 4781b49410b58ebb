#include "gateway/notify/email_sink.h"

#include <curl/curl.h>

#include <ctime>
#include <memory>

#include "gateway/notify/approval_event.h"
#include "gateway/notify/http_post.h"

namespace sluice::gateway::notify {
namespace {

// Header values must not carry line breaks (they would start new headers).
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

struct Upload {
  const std::string& data;
  std::size_t sent = 0;
};

size_t read_upload(char* buf, size_t size, size_t n, void* arg) {
  auto* u = static_cast<Upload*>(arg);
  const size_t len = std::min(size * n, u->data.size() - u->sent);
  std::copy_n(u->data.data() + u->sent, len, buf);
  u->sent += len;
  return len;
}

}  // namespace

std::string email_message(const nlohmann::json& event, const std::string& from, const std::vector<std::string>& to,
                          long long delivery_id) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string rcpt;
  for (const auto& t : to) rcpt += (rcpt.empty() ? "" : ", ") + one_line(t);
  std::string domain = from.substr(from.find('@') == std::string::npos ? from.size() : from.find('@') + 1);
  if (domain.empty()) domain = "sluice.invalid";
  std::string m = "Date: " + std::string(date) + "\r\nFrom: " + one_line(from) + "\r\nTo: " + rcpt +
                  "\r\nSubject: [sluice] " + one_line(headline(event)) + "\r\nMessage-ID: <approval-" +
                  one_line(event["approval"].value("id", "")) + "." + std::to_string(delivery_id) + "@" +
                  one_line(domain) + ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n";
  m += one_line(headline(event)) + "\r\n\r\n";
  for (const auto& [label, value] : summary_fields(event)) m += label + ": " + one_line(value) + "\r\n";
  const auto& links = event["links"];
  m += "\r\nReview: " + links.value("review", "") + "\r\nAPI: " + links.value("self", "") + "\r\nApprove: POST " + links.value("approve", "") +
       "\r\nReject: POST " + links.value("reject", "") + " {\"reason\": \"...\"}\r\nOr: " + links.value("cli", "") +
       "\r\n";
  // SMTP ends the message at a line holding one dot: libcurl escapes such lines itself.
  return m;
}

EmailSink::EmailSink(const NotificationSinkSettings& s)
    : name_(s.name), url_(s.url.empty() ? read_secret_file(s.url_file) : s.url), ca_file_(s.ca_file), from_(s.from),
      username_(s.username), password_(s.password_file.empty() ? "" : read_secret_file(s.password_file)), to_(s.to) {}

Delivery EmailSink::deliver(const nlohmann::json& event, long long delivery_id) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return {false, "curl_easy_init failed"};
  const std::string message = email_message(event, from_, to_, delivery_id);
  Upload upload{message};
  curl_slist* rcpt = nullptr;
  for (const auto& t : to_) rcpt = curl_slist_append(rcpt, ("<" + t + ">").c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> owned(rcpt, curl_slist_free_all);
  const std::string mail_from = "<" + from_ + ">";
  curl_easy_setopt(curl.get(), CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(curl.get(), CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(curl.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  if (!ca_file_.empty()) curl_easy_setopt(curl.get(), CURLOPT_CAINFO, ca_file_.c_str());
  if (!username_.empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_USERNAME, username_.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PASSWORD, password_.c_str());
  }
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return {false, curl_easy_strerror(rc)};
  return {true, ""};
}

}  // namespace sluice::gateway::notify
