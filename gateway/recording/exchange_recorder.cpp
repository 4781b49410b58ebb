#include "gateway/recording/exchange_recorder.h"

#include <cstdio>

namespace sluice::gateway::recording {
namespace {

// A stream's bytes go to the writer in chunks of this size, or once they have waited this long: a
// slow watch keeps little in memory (thousands of open watches each hold at most one chunk) and
// its events reach the database within seconds.
constexpr std::size_t kChunkBytes = 64 * 1024;
constexpr auto kChunkAge = std::chrono::seconds(2);

std::string hex(const unsigned char* d, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[d[i] >> 4];
    out += digits[d[i] & 15];
  }
  return out;
}

// The longest prefix of carry+data that ends on a whole UTF-8 character; the rest stays in carry.
std::string whole_utf8(std::string& carry, std::string_view data) {
  std::string text = carry + std::string(data);
  std::size_t cut = text.size();
  for (std::size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    const unsigned char c = static_cast<unsigned char>(text[text.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (need > back) cut = text.size() - back;
    break;
  }
  carry = text.substr(cut);
  text.resize(cut);
  return text;
}

}  // namespace

std::string session_key(const std::string& user, const std::string& cluster, const std::string& kubectl_session,
                        const std::string& connection_id) {
  if (!kubectl_session.empty()) return "kubectl:" + user + ":" + cluster + ":" + kubectl_session;
  return "conn:" + user + ":" + cluster + ":" + connection_id;
}

ExchangeRecorder::Stream::Stream(RecordingWriter& w, std::string id, std::string name, std::uint64_t cap)
    : writer_(w), id_(std::move(id)), name_(std::move(name)), cap_(cap), sha_(EVP_MD_CTX_new()) {
  // Fetched once: an implicit fetch per exchange costs OpenSSL 3 a lookup under a lock.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_DigestInit_ex(sha_, sha256, nullptr);
}

ExchangeRecorder::Stream::~Stream() { EVP_MD_CTX_free(sha_); }

void ExchangeRecorder::Stream::add(std::string_view data, bool store) {
  summary_.bytes += data.size();
  EVP_DigestUpdate(sha_, data.data(), data.size());
  if (!store) {
    summary_.truncated = true;
    return;
  }
  std::size_t keep = data.size();
  if (cap_ > 0 && stored_ + keep > cap_) {
    keep = cap_ > stored_ ? static_cast<std::size_t>(cap_ - stored_) : 0;
    summary_.truncated = true;
  }
  if (buf_.empty() && keep > 0) first_at_ = std::chrono::steady_clock::now();
  buf_.append(data.substr(0, keep));
  stored_ += keep;
  if (buf_.size() >= kChunkBytes || (!buf_.empty() && std::chrono::steady_clock::now() - first_at_ >= kChunkAge)) push();
}

void ExchangeRecorder::Stream::push() {
  if (buf_.empty()) return;
  // A full queue drops the piece: the recording says so (truncated), the exchange goes on.
  if (!writer_.push(ExchangeChunk{id_, name_, seq_++, std::move(buf_)})) summary_.truncated = true;
  buf_.clear();
}

StreamSummary ExchangeRecorder::Stream::close() {
  push();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(sha_, digest, &n);
  summary_.sha256 = hex(digest, n);
  return summary_;
}

ExchangeRecorder::ExchangeRecorder(RecordingWriter& writer, ExchangeStart start, std::uint64_t max_body_bytes,
                                   std::shared_ptr<const masking::MaskingProfile> profile)
    : writer_(writer),
      kind_(start.kind),
      t0_(std::chrono::steady_clock::now()),
      request_(writer, start.id, kind_ == "http" ? "request" : "from_client", max_body_bytes),
      response_(writer, start.id, kind_ == "http" ? "response" : "from_cluster", max_body_bytes) {
  end_.id = start.id;
  if (kind_ == "exec") {
    cast_.emplace(writer, start.id, "asciicast", max_body_bytes);
    if (profile && !profile->detectors.empty()) stdin_redactor_.emplace(profile);
  }
  if (!writer_.push(std::move(start))) finished_ = true;  // dropped: nothing else is recorded either
}

ExchangeRecorder::~ExchangeRecorder() { finish(); }

void ExchangeRecorder::request_body(std::string_view masked) { request_.add(masked); }

void ExchangeRecorder::request_body_withheld(std::string_view body) { request_.add(body, false); }

void ExchangeRecorder::response_head(int status, nlohmann::json headers) {
  end_.response_code = status;
  end_.response_headers = std::move(headers);
}

void ExchangeRecorder::from_cluster(std::string_view data) {
  if (finished_) return;
  if (kind_ != "exec") return response_.add(data);
  response_.add(data, false);  // counted and hashed; what it says is in the asciicast
  cluster_frames_.feed(data);
  while (auto f = cluster_frames_.next()) on_cluster_frame(*f);
}

void ExchangeRecorder::from_client(std::string_view data) {
  if (finished_) return;
  if (kind_ != "exec") return request_.add(data);
  request_.add(data, false);
  client_frames_.feed(data);
  while (auto f = client_frames_.next()) on_client_frame(*f);
}

void ExchangeRecorder::cast_event(const char* type, std::string_view data) {
  if (data.empty()) return;
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  char time[32];
  std::snprintf(time, sizeof time, "%.6f", t);
  cast_->add(std::string("[") + time + ", \"" + type + "\", " +
             nlohmann::json(std::string(data)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "]\n");
}

void ExchangeRecorder::on_cluster_frame(const common::WebSocketFrame& f) {
  if (f.opcode != 2 || f.payload.empty()) return;
  const int channel = static_cast<unsigned char>(f.payload[0]);
  const std::string_view data = std::string_view(f.payload).substr(1);
  if (channel == 1 || channel == 2) return cast_event("o", whole_utf8(utf8_carry_[channel], data));
  if (channel == 3) end_.exit_status = nlohmann::json::parse(data, nullptr, false);
}

void ExchangeRecorder::on_client_frame(const common::WebSocketFrame& f) {
  if (f.opcode != 2 || f.payload.empty()) return;
  const int channel = static_cast<unsigned char>(f.payload[0]);
  const std::string_view data = std::string_view(f.payload).substr(1);
  if (channel == 0) {
    std::string text(data);
    if (stdin_redactor_) {
      text.clear();
      stdin_redactor_->feed(data, text);
    }
    return cast_event("i", whole_utf8(utf8_carry_[0], text));
  }
  if (channel == 4) {  // {"Width": 80, "Height": 24}
    const auto size = nlohmann::json::parse(data, nullptr, false);
    if (!size.is_object() || !size.contains("Width") || !size.contains("Height")) return;
    const auto w = size["Width"], h = size["Height"];
    if (!w.is_number() || !h.is_number()) return;
    if (end_.terminal.is_null()) end_.terminal = {{"width", w}, {"height", h}};
    cast_event("r", w.dump() + "x" + h.dump());
  }
}

void ExchangeRecorder::finish() {
  if (finished_) return;
  finished_ = true;
  if (cast_) {
    if (stdin_redactor_) {
      std::string rest;
      stdin_redactor_->flush(rest, true);
      cast_event("i", utf8_carry_[0] + rest);
    }
    cast_event("o", utf8_carry_[1]);
    cast_event("o", utf8_carry_[2]);
    cast_->close();
  }
  end_.request = request_.close();
  end_.response = response_.close();
  end_.finished_at = audit::Clock::now();
  writer_.push(std::move(end_));
}

}  // namespace sluice::gateway::recording
