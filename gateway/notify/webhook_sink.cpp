#include "gateway/notify/webhook_sink.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gateway/notify/http_post.h"

namespace sluice::gateway::notify {

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

WebhookSink::WebhookSink(const NotificationSinkSettings& s)
    : name_(s.name), url_(s.url.empty() ? read_secret_file(s.url_file) : s.url),
      secret_(s.secret_file.empty() ? "" : read_secret_file(s.secret_file)), ca_file_(s.ca_file) {}

Delivery WebhookSink::deliver(const nlohmann::json& event, long long delivery_id) {
  const std::string body = event.dump();
  std::vector<std::pair<std::string, std::string>> headers{
      {"Content-Type", "application/json"},
      {"User-Agent", "sluice-gateway"},
      {"X-Sluice-Event", event.value("type", "")},
      {"X-Sluice-Delivery", std::to_string(delivery_id)}};
  if (!secret_.empty()) headers.emplace_back("X-Sluice-Signature-256", "sha256=" + hmac_sha256_hex(secret_, body));
  return http_post(url_, body, headers, ca_file_);
}

}  // namespace sluice::gateway::notify
