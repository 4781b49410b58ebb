#include "gateway/auth/https_fetch.h"

#include <curl/curl.h>

#include <memory>

#include "common/request_info.h"

namespace sluice::gateway::oidc {
namespace {

constexpr std::size_t kMaxDocumentBytes = 1024 * 1024;

struct Body {
  std::string data;
  bool too_large = false;
};

size_t on_data(char* ptr, size_t size, size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  if (body->data.size() + size * n > kMaxDocumentBytes) {
    body->too_large = true;
    return 0;  // aborts the transfer
  }
  body->data.append(ptr, size * n);
  return size * n;
}

using Curl = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

// The common options; `body` receives the answer.
Curl prepare(const std::string& url, const std::string& ca_file, Body& body) {
  Curl curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return curl;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file.empty()) curl_easy_setopt(curl.get(), CURLOPT_CAINFO, ca_file.c_str());
  return curl;
}

std::optional<HttpsAnswer> perform(CURL* curl, const std::string& url, Body& body, std::string& error) {
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    // The URL without its query: a query may carry a secret.
    error = url.substr(0, url.find('?')) + ": " + (body.too_large ? "answer larger than 1 MiB" : curl_easy_strerror(rc));
    return std::nullopt;
  }
  HttpsAnswer answer;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  answer.body = std::move(body.data);
  return answer;
}

bool https_only(const std::string& url, std::string& error) {
  if (url.rfind("https://", 0) == 0) return true;
  error = url.substr(0, url.find('?')) + ": only https:// is accepted";
  return false;
}

// https only, the common options, then `configure` (method, body), then the exchange.
template <class Configure>
std::optional<HttpsAnswer> exchange(const std::string& url, const std::string& ca_file, std::string& error,
                                    Configure configure) {
  if (!https_only(url, error)) return std::nullopt;
  Body body;
  Curl curl = prepare(url, ca_file, body);
  if (!curl) {
    error = "curl_easy_init failed";
    return std::nullopt;
  }
  configure(curl.get());
  return perform(curl.get(), url, body, error);
}

}  // namespace

std::optional<std::string> https_get(const std::string& url, const std::string& ca_file, std::string& error) {
  auto answer = exchange(url, ca_file, error, [](CURL*) {});
  if (!answer) return std::nullopt;
  if (answer->status != 200) {
    error = url + ": HTTP " + std::to_string(answer->status);
    return std::nullopt;
  }
  return std::move(answer->body);
}

std::optional<HttpsAnswer> https_post_form(const std::string& url,
                                           const std::vector<std::pair<std::string, std::string>>& form,
                                           const std::vector<std::string>& headers, const std::string& ca_file,
                                           std::string& error) {
  std::string encoded;
  for (const auto& [k, v] : form) encoded += (encoded.empty() ? "" : "&") + common::percent_encode(k) + "=" + common::percent_encode(v);
  curl_slist* raw = curl_slist_append(nullptr, "Content-Type: application/x-www-form-urlencoded");
  raw = curl_slist_append(raw, "Accept: application/json");
  for (const auto& h : headers) raw = curl_slist_append(raw, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> list(raw, curl_slist_free_all);
  return exchange(url, ca_file, error, [&](CURL* curl) {
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, encoded.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(encoded.size()));
  });
}

}  // namespace sluice::gateway::oidc
